"""The cost and fit advisor behind ``relaykit advise``: which deployment option runs each handler
cheapest, from its measurements (``relaykit.measure``) and a traffic profile.

``prices`` (the dated price table), ``profile`` (workloads and traffic), ``constraints`` (what
rules an option out), ``options`` and ``containers`` (one cost model per option), ``services``
(front doors, run store, queues, logs), ``advise`` (recommendation and break-even), ``report``,
``chart``, ``apply`` (writes the placement) and ``readings`` (where measurements come from).
Standard library only; nothing here is imported by ``import relaykit``.
"""
