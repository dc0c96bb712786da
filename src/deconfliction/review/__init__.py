"""The after-action review: the timeline around an incident, from the record.

``build`` gathers, for one viewer, what the store holds about a point, a radius and a
time window (registered objects, reports, notifications and answers, checks); the
incident and the review's bounds are in ``incident``, what the viewer may see and how it
names things in ``visibility`` (the same releasability rule as the lists), the timeline's
order in ``timeline`` and the findings in ``findings``. ``pages`` cuts a review into
pages; ``render`` turns it into Markdown, HTML and a map image; ``story`` plays the demo
incident into a store with its real pace, for the committed example
(``docs/design/review.md``).
"""
