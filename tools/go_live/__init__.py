"""``make go-live-check``: Pay1st's go-live checklist run against a stack, step by step (``python -m go_live``).

``report`` holds the result types and their two renderings (text, JSON); ``target`` what is checked (a
deployed stack read with boto3; the local stack in ``local_target``); ``steps`` (secret, gateway),
``partner_steps`` (the stack's API) and ``webhook`` the checklist's steps as small functions; ``compare``
the production-versus-sandbox parameters; ``runner`` runs the steps in order, skipping those whose
prerequisite failed.
"""
