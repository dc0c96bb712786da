"""The after-action review: the timeline around an incident, from the record.

``build`` gathers, for one viewer, what the store holds about a point, a radius and a
time window (registered objects, reports, notifications and answers, checks), each
filtered by the same releasability rule as the lists; ``render`` turns that review
into Markdown, HTML and a map image; ``story`` plays the demo incident into a store
with its real pace, for the committed example (``docs/design/review.md``).
"""
