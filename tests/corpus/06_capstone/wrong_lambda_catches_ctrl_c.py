# expect: lose lambda_reports_failed_messages_by_message_id
# Misconception: "no exception may escape a Lambda function, so catch everything". A bare except (or
# except BaseException) also catches Ctrl-C and the runtime's own shutdown: the function reports the
# record as failed and carries on with the next one instead of stopping. Only an Exception is a failure
# of the record.
# --- edit: handle_event
# replace:
        except Exception:
# with:
        except BaseException:
