"""HoloCall Desktop: volumetric (3D) video calls.

Data flows one way per direction: capture -> processing -> codec -> transport -> codec -> render,
with audio and avatar as parallel branches and ui composing them. ``model`` holds the plain
data types every stage shares.
"""

__version__ = "0.1.0"
