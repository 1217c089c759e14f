"""Offline checks of generated infrastructure: SAM translated by ``aws-sam-translator`` then
linted by ``cfn-lint``, Terraform parsed by ``python-hcl2`` and checked for references to
undeclared resources, variables and data sources."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

MANAGED = {
    "AWSLambdaBasicExecutionRole": (
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    )
}
_RESOURCE_REF = re.compile(r"(?<![\w.])(aws_[a-z0-9_]+)\.([A-Za-z_][A-Za-z0-9_-]*)")
_DATA_REF = re.compile(r"(?<![\w.])data\.(aws_[a-z0-9_]+)\.([A-Za-z_][A-Za-z0-9_-]*)")
_VAR_REF = re.compile(r"(?<![\w.])var\.([A-Za-z_][A-Za-z0-9_-]*)")


class _Policies:
    def load(self) -> dict[str, str]:
        return MANAGED


def translate(template: dict[str, Any]) -> dict[str, Any]:
    """The CloudFormation that SAM makes of ``template``; local CodeUri paths are replaced by
    an S3 URI first, as ``sam package`` does."""
    from samtranslator.translator.transform import transform

    template = json.loads(json.dumps(template))
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function" and "CodeUri" in properties:
            properties["CodeUri"] = "s3://relaykit-artifacts/app.zip"
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    result: dict[str, Any] = transform(template, {}, _Policies())
    return result


def cfn_lint(template: dict[str, Any], folder: Path) -> str:
    """cfn-lint's findings on ``template`` ('' when clean)."""
    path = folder / "template.json"
    path.write_text(json.dumps(template, indent=1))
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--regions", "us-east-1", "--", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    return (result.stdout + result.stderr).strip()


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for key, item in value.items() for s in _strings(key) + _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def undeclared_references(text: str) -> list[str]:
    """References in Terraform ``text`` to resources, data sources or variables it does not
    declare (parsed with python-hcl2)."""
    import hcl2

    module = hcl2.loads(text)

    def label(text: str) -> str:  # python-hcl2 8 keeps block labels quoted
        return text.strip('"')

    declared: set[str] = set()
    for block in module.get("resource", []):
        declared |= {
            f"{label(kind)}.{label(name)}" for kind, items in block.items() for name in items
        }
    for block in module.get("data", []):
        declared |= {
            f"data.{label(kind)}.{label(name)}" for kind, items in block.items() for name in items
        }
    for block in module.get("variable", []):
        declared |= {f"var.{label(name)}" for name in block}
    missing: list[str] = []
    for text_value in _strings({k: v for k, v in module.items() if k != "__comments__"}):
        refs = [f"data.{k}.{n}" for k, n in _DATA_REF.findall(text_value)]
        refs += [f"{k}.{n}" for k, n in _RESOURCE_REF.findall(text_value)]
        refs += [f"var.{n}" for n in _VAR_REF.findall(text_value)]
        missing += [ref for ref in refs if ref not in declared and ref not in missing]
    return sorted(missing)
