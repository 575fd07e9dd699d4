FROM python:3.11-slim
WORKDIR /srv/deltaflow
COPY pyproject.toml README.md ./
COPY app ./app
COPY static ./static
COPY templates ./templates
RUN pip install --no-cache-dir -e .
ENV DELTAFLOW_HOST=0.0.0.0
EXPOSE 8000
CMD ["deltaflow", "serve"]
