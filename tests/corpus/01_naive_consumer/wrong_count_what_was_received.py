# expect: lose returns_the_number_handled
# Bug: returns how many messages the receive brought, not how many were finished. Every run's
# outcome is right; the step's report to its caller (a metric, a loop that backs off when idle)
# counts failed messages as done.
# --- edit: consume_once
# replace:
    return done
# with:
    return len(response.get("Messages", []))
