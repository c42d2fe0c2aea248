# expect: lose lambda_reports_failed_messages_by_message_id
# Misconception: "charge_once returned False, so the record failed". False means the order had been
# charged before: the record is done, and reporting it sends a finished message round again.
# --- edit: handle_event
# replace:
        try:
            charge_once(db, handler, record["body"])
        except Exception:
# with:
        try:
            if not charge_once(db, handler, record["body"]):
                raise RuntimeError("not charged")
        except Exception:
