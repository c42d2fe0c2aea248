"""Pictures of a lab run, all drawn from its history: never graded, never part of a verdict.

- :mod:`.timeline`: one row per message, time across (notebooks, demos and feedback pages);
- :mod:`.demo`: the live demo's model, a queue and consumer lanes stepped by hand;
- :mod:`.widgets`: the demo on screen (ipywidgets), for the mouse and the keyboard.
"""
