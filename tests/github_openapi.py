"""The fake GitHub checked against GitHub's own published OpenAPI description.

`@octokit/openapi` (pinned in .tools/package.json, installed by `make tools`) ships the
description of api.github.com. A test that hands `github_openapi.observe` to a `FakeGitHub`
gets every request the client sends and every answer the fake gives checked against it: the
operation (method and path template) must exist, the request body must match its schema, and
the answer's status and body must be among the described ones. `verify()` fails the test with
each mismatch's path and schema error. The description (13 MB) is read once per session and
each schema's compiled validator is kept.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
from openapi_schema_validator import OAS30Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from gastown.scripted.github import Exchange

DESCRIPTION = (
    Path(__file__).resolve().parent.parent
    / ".tools/node_modules/@octokit/openapi/generated/api.github.com.json"
)
BASE = "urn:github-openapi"
# Answers GitHub gives to any request whether or not an operation lists them.
ANY_OPERATION = {"401", "403", "404", "500", "502", "503"}


class Description:
    """The parsed description, its path templates, and a validator per schema location."""

    def __init__(self, path: Path) -> None:
        self.spec: dict[str, Any] = json.loads(path.read_text())
        _null_in_enums(self.spec)
        resource = Resource.from_contents(self.spec, default_specification=DRAFT4)
        self.registry: Registry[Any] = Registry().with_resource(BASE, resource)
        templates = []
        for template in self.spec["paths"]:
            pattern = re.sub(
                r"\{[^}]+\}", "[^/]+", re.escape(template).replace(r"\{", "{").replace(r"\}", "}")
            )
            templates.append((template.count("{"), template, re.compile(f"^{pattern}$")))
        self.templates = sorted(templates)
        self._validators: dict[str, Any] = {}
        self._lock = threading.Lock()

    def operation(self, method: str, path: str) -> tuple[str, dict[str, Any]] | None:
        for _, template, pattern in self.templates:
            if pattern.match(path):
                op = self.spec["paths"][template].get(method.lower())
                if op is not None:
                    return template, op
        return None

    def errors(self, pointer: str, instance: Any) -> list[str]:
        with self._lock:
            validator = self._validators.get(pointer)
            if validator is None:
                validator = OAS30Validator({"$ref": f"{BASE}#{pointer}"}, registry=self.registry)
                self._validators[pointer] = validator
        return [
            f"{'/'.join(str(p) for p in e.absolute_path) or '(top)'}: {e.message[:300]}"
            for e in validator.iter_errors(instance)
        ]

    def resolve(self, node: dict[str, Any], pointer: str) -> tuple[dict[str, Any], str]:
        """Follow a `$ref` of a response or request body: the object and its pointer."""
        while "$ref" in node:
            pointer = node["$ref"].removeprefix("#")
            node = self.spec
            for part in pointer.strip("/").split("/"):
                node = node[part.replace("~1", "/").replace("~0", "~")]
        return node, pointer


@lru_cache(maxsize=1)
def description() -> Description:
    if not DESCRIPTION.exists():
        pytest.fail(
            f"GitHub's OpenAPI description is missing ({DESCRIPTION}); run `make tools`.",
            pytrace=False,
        )
    return Description(DESCRIPTION)


def _null_in_enums(node: Any) -> None:
    """GitHub marks enums `nullable` without listing null among their values (a check run's
    `conclusion` while it runs, say) and answers null; OpenAPI 3.0.3 wants null listed, so
    it is added here, as GitHub means it."""
    if isinstance(node, dict):
        if node.get("nullable") and isinstance(node.get("enum"), list) and None not in node["enum"]:
            node["enum"].append(None)
        for value in node.values():
            _null_in_enums(value)
    elif isinstance(node, list):
        for value in node:
            _null_in_enums(value)


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


class OpenAPICheck:
    """Checks exchanges with the fake against the description; `verify` reports them."""

    def __init__(self, spec: Description) -> None:
        self.spec = spec
        self.problems: list[str] = []
        self.checked = 0

    def observe(self, exchange: Exchange) -> None:
        try:
            problems = self._check(exchange)
        except Exception as exc:  # a broken check must fail the test, not the fake's thread
            problems = [f"checking failed: {exc!r}"]
        self.checked += 1
        self.problems.extend(f"{exchange.method} {exchange.target}: {p}" for p in problems)

    def verify(self) -> None:
        if self.problems:
            pytest.fail(
                "The fake GitHub or the client strayed from GitHub's OpenAPI description:\n"
                + "\n".join(self.problems),
                pytrace=False,
            )

    def _check(self, ex: Exchange) -> list[str]:
        path = urllib.parse.urlsplit(ex.target).path
        found = self.spec.operation(ex.method, path)
        if found is None:
            return [f"GitHub describes no operation {ex.method} {path}"]
        template, op = found
        base = f"/paths/{_escape(template)}/{ex.method.lower()}"
        problems = []
        if ex.request is not None:
            if "requestBody" not in op:
                problems.append("a body was sent to an operation that takes none")
            else:
                body, pointer = self.spec.resolve(op["requestBody"], f"{base}/requestBody")
                media = body.get("content", {}).get("application/json")
                if media is not None and "schema" in media:
                    at = f"{pointer}/content/application~1json/schema"
                    problems += [f"request {e}" for e in self.spec.errors(at, ex.request)]
        status = str(ex.status)
        responses = op.get("responses", {})
        if status == "304" and ex.method == "GET" and ex.response is None:
            return problems  # any conditional read may be answered 304, described or not
        if status not in responses:
            if status in ANY_OPERATION:
                at = "/components/schemas/basic-error"
                return problems + [f"answer {e}" for e in self.spec.errors(at, ex.response)]
            return [*problems, f"answer {status} is not one GitHub describes ({sorted(responses)})"]
        answer, pointer = self.spec.resolve(responses[status], f"{base}/responses/{status}")
        media = answer.get("content", {}).get("application/json")
        if media is None or "schema" not in media:
            if ex.response is not None and status != "204":
                return problems  # described without a body shape: nothing to hold it to
            return problems
        if ex.response is None:
            return [*problems, f"answer {status} has no body, but GitHub's has one"]
        at = f"{pointer}/content/application~1json/schema"
        return problems + [f"answer {e}" for e in self.spec.errors(at, ex.response)]


@pytest.fixture
def github_openapi() -> Iterator[OpenAPICheck]:
    """A checker for one test's fake GitHub: pass `.observe`, call `.verify()` at the end."""
    check = OpenAPICheck(description())
    yield check
    check.verify()
