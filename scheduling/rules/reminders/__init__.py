"""Reminder policy: when reminders are due, how many SMS a patient may get, and what they say.

Pure rules (STYLE.md habit 9): stdlib only, no Django, no database, no clock. The caller passes
``now`` and stores the result as ``Reminder`` rows (DESIGN.md §3); a beat tick claims due rows
(DESIGN.md §4 promise 4). Nothing here sends anything.

Sources
-------
- DESIGN.md §4 promise 5 (reminders respect the patient), promise 9 (time is honest), §7
  (peers send at any hour / in server time / fixed Pacific time; duplicate texts).
- DOMAIN.md §7.1: 24–48 h ahead is the common default ([WEAK]); "2 h before" is UNSOURCED, so
  ``same_day_offset`` is off by default.
- DOMAIN.md §7.2 HIPAA (HHS FAQ 198, OCR FAQ 570): limit PHI in unencrypted SMS/voicemail/email;
  never a drug, diagnosis or treatment name → ``notifications.terms``, subject line carries nothing
  but "Appointment reminder from <clinic>".
- DOMAIN.md §7.3 FCC 15-72 healthcare exemption: provider name and contact number, text ≤160
  characters, at most 1 message a day and 3 a week, "Reply STOP" told every time, free to the
  end user (so no "msg & data rates" wording). FCC 24-24: revocation by any reasonable means
  ("stop", "quit", "end", "revoke", "opt out", "cancel", "unsubscribe"), one confirmation text.
  47 CFR 64.1200 quiet hours: only 08:00–21:00 recipient local time.

Modules
-------
``policy``
    ``ReminderPolicy`` (frozen; per clinic; can only be *stricter* than the FCC/quiet-hour limits),
    ``SessionInfo``, ``PatientInfo``, ``PlannedReminder``, ``ReminderKind``, ``SkipReason``;
    ``in_quiet_hours``, ``nominal_due_time``, ``due_time``.
``planning``
    ``plan_reminders(*, sessions, patient, policy, now, prior_sms_due=())``, ``check_sms_budget``.
``texts``
    ``render_sms``, ``render_email``, ``render_digest_sms``, ``render_change_notice_sms``.
Patient-text mechanics live below scheduling, in the notifications app: the forbidden-term list
(``notifications.terms``), SMS length/STOP footer/HELP reply (``notifications.rendering``),
inbound keywords and webhook signatures (``notifications.inbound``).

Decisions
---------
- Offsets: whole days are subtracted in the patient's local wall time (a 24 h reminder for a
  10:00 session is at 10:00 the day before, even across DST); other offsets are elapsed time.
- Quiet hours: allowed window is [quiet_start, quiet_end) in the *patient's* zone. A nominal due
  time inside quiet hours moves EARLIER to ``quiet_end - 1 min`` of the previous allowed evening
  (never later, so a reminder never arrives after the visit it announces). If that moment is
  already past (late booking), it moves forward to the first allowed moment ≥ ``now``; if that is
  not before the session, there is no reminder (``None`` / ``SkipReason.NO_ALLOWED_TIME``).
  Wall-clock arithmetic is done in local time and converted back with zoneinfo; a nonexistent
  local time resolves to the earlier instant when moving earlier and the later one when moving
  later (see ``wall_to_utc``).
- Digest: SMS only (the limit it works around is the FCC SMS budget). A patient-local ISO week
  with more than ``digest_threshold_per_week`` sessions gets one weekly digest due at the latest
  ``digest_weekday``/``digest_time`` before that week's first session, and no per-session SMS.
- Budget: 1/day and 3/ISO-week (Mon–Sun, patient local date of the due time) over all planned
  SMS plus ``prior_sms_due``. Extras are kept in the plan with a ``skip_reason`` so the caller can
  record them as 'skipped'. Priority: digest > reminder > same_day, then earlier due time, then key.
- SMS truncation: preparation first, then place, then (only if still too long) the clinic name;
  date/time, clinic, callback number and "Reply STOP to opt out" are never dropped. Cuts happen
  at word boundaries with "..." and a cut fragment that would read as a forbidden term is dropped.
- Term matching: see ``notifications.terms.FORBIDDEN_TERMS``; 'pain' is a whole word (also
  'pains', 'painful'), so 'Spain', 'painting' and 'Paine St' pass while 'Pain Clinic' is refused.
"""
