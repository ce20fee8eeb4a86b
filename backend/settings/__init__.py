"""Settings by environment: ``development`` (default for manage.py), ``test``, ``production``.

Everything that differs between deployments comes from environment variables (README §
Configuration lists each one); the modules here only choose safe defaults per profile.
"""
