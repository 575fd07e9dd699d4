"""Every test's app and server keeps its sessions in memory unless the test gives a file."""

import os

os.environ["DELTAFLOW_DB"] = ":memory:"
