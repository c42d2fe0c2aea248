# expect: lose receive_batch_returns_the_messages long_polls_an_almost_empty_queue
# Bug: returns ReceiveMessage's whole response (a dict with ResponseMetadata) instead of the
# messages, and the response of an empty receive has no "Messages" at all.
# --- edit: receive_batch
# replace:
    return response.get("Messages", [])
# with:
    return response
