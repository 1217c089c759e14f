"""Deployment artifacts built from an app and its placement: ``relaykit package`` (a lean Lambda
zip, ``package.py``), and ``relaykit deploy-config`` (an AWS SAM template, ``sam.py``, or a
Terraform module, ``terraform.py``, both from the plan in ``plan.py``). See docs/deploy.md.

Nothing here is imported by ``import relaykit``; the CLI loads it when a command runs.
"""
