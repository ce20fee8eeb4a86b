"""The PostgreSQL database backend: Django's own, with timestamps parsed in C (``base.py``)."""
