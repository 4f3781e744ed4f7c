"""A seeded, deterministic simulation of the whole bundle (issue 22, DESIGN §11).

The bundle's real handlers and use cases run unmodified, wired through ``pay1st_partner.runtime`` to the
in-memory store, around a simulated Pay1st (:mod:`sim.gateway`, written from the contract, not from the
layer), a virtual clock (:mod:`sim.clock`) and one scheduler (:mod:`sim.scheduler`) that runs every Lambda
invocation as a greenlet and switches only at store-write and gateway-call boundaries, where it may also
crash it. One seed decides every choice: ``python -m sim --payments N --seed S``.
"""
