"""The declared API contract (/openapi.json) checked on every answer the e2e
tests receive: a success status must be declared for its route, and a JSON
answer must match the schema declared for its status (errors: the Error
schema). Every e2e test is thereby also a test of the document."""
import copy
import json
import re

import jsonschema


def _to_json_schema(s):
    """OpenAPI 3.0 schema → JSON Schema draft 4 (nullable → a null type)."""
    if isinstance(s, list):
        return [_to_json_schema(x) for x in s]
    if not isinstance(s, dict):
        return s
    out = {k: _to_json_schema(v) for k, v in s.items() if k != "nullable"}
    if s.get("nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"]
        elif "anyOf" in out:
            out["anyOf"] = out["anyOf"] + [{"type": "null"}]
    return out


class ContractError(AssertionError):
    pass


class Contract:
    def __init__(self, doc):
        self.doc = doc
        self.components = _to_json_schema(doc.get("components", {}).get("schemas", {}))
        self.routes = []
        for pattern, ops in doc["paths"].items():
            rx = re.compile("^" + "/".join("[^/]+" if seg.startswith("{") else re.escape(seg)
                                           for seg in pattern.split("/")) + "$")
            for method, op in ops.items():
                self.routes.append((method.upper(), pattern, rx, op))
        # Literal segments before parameters: /models/traffic before /models/{version}.
        self.routes.sort(key=lambda r: r[1].count("{"))

    def operation(self, method, path):
        for m, pattern, rx, op in self.routes:
            if m == method and rx.match(path):
                return pattern, op
        return None, None

    def check(self, method, target, status, headers, body):
        path = target.split("?", 1)[0]
        pattern, op = self.operation(method, path)
        if op is None:
            return  # unknown route or method: the server's 404/405 are not part of a route's contract
        responses = op["responses"]
        declared = responses.get(str(status))
        if declared is None:
            if 200 <= status < 300:
                raise ContractError(f"{method} {pattern} answered {status}, not declared: {sorted(responses)}")
            declared = responses["default"]
        ctype = (headers.get("content-type") or "").split(";")[0].strip()
        content = declared.get("content") or {}
        if status == 204 or method == "HEAD":
            return
        if ctype != "application/json":
            if content and ctype not in content:
                raise ContractError(f"{method} {pattern} {status}: content-type {ctype}, declared {sorted(content)}")
            return
        media = content.get("application/json")
        if media is None:
            raise ContractError(f"{method} {pattern} {status}: a JSON answer where none is declared")
        schema = media.get("schema") or {}
        if "$ref" in schema:
            schema = self.components[schema["$ref"].rsplit("/", 1)[1]]
        else:
            schema = _to_json_schema(schema)
        try:
            jsonschema.Draft4Validator(schema).validate(json.loads(body))
        except jsonschema.ValidationError as e:
            raise ContractError(f"{method} {pattern} {status} does not match its declared schema: "
                                f"{e.message} at {list(e.absolute_path)}\nbody: {body[:500]}") from None
