"""Scheduling API views, one module per concern: ``clinics`` (sites, closures, resources,
clinician hours), ``sessions`` (course scheduling, sessions and their actions — one view per
state change — and availability search) and ``feeds`` (calendar feeds).

Views validate shape, authorise through ``plans.access`` / ``scheduling.access`` (another
organisation's object is a 404) and call one service (STYLE.md habit 3).
"""
