"""A live training session: the phase cursor, history and seek, play modes, and subscribers.

It knows no transport: a subscriber is anything with a bounded `put`.
"""
