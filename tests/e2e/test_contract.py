"""The declared contract (/openapi.json): complete, checked by the server on
every request, and checked here on every answer (conftest.py, contract.py)."""
import json

import pytest

from contract import Contract, ContractError


def test_the_contract_checker_catches_answers_that_break_the_document():
    error = {"$ref": "#/components/schemas/Error"}
    doc = {"paths": {"/a/{id}": {"get": {"responses": {
        "200": {"description": "x", "content": {"application/json": {"schema": {
            "type": "object", "required": ["n"],
            "properties": {"n": {"type": "integer"}, "s": {"type": "string", "nullable": True}}}}}},
        "default": {"description": "e", "content": {"application/json": {"schema": error}}}}}}},
        "components": {"schemas": {"Error": {"type": "object", "required": ["error"]}}}}
    c = Contract(doc)
    json_type = {"content-type": "application/json"}
    c.check("GET", "/a/1", 200, json_type, '{"n":1,"s":null}')
    c.check("GET", "/a/1", 404, json_type, '{"error":{}}')
    for status, body in [(200, '{"n":"x"}'), (201, '{"n":1}'), (404, '{"nope":1}')]:
        with pytest.raises(ContractError):
            c.check("GET", "/a/1?x=1", status, json_type, body)


def test_every_route_declares_its_contract(server):
    doc = server.request("GET", "/openapi.json").json()
    assert doc["openapi"].startswith("3.0")
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            where = f"{method.upper()} {path}"
            codes = set(op["responses"])
            assert any(c.startswith("2") for c in codes), where
            assert "default" in codes, where
            if op.get("security"):
                assert {"401", "403"} <= codes, where
            for p in op.get("parameters", []):
                assert p["in"] in ("path", "query", "header") and "schema" in p, (where, p)
            body = op.get("requestBody")
            if method in ("post", "put", "patch") and path not in ("/api/v1/training/{job_id}/cancel",) \
                    and not path.endswith(("/deploy", "/promote", "/abort")):
                assert body, f"{where} declares no body"
            if body and "application/json" in body["content"]:
                schema = body["content"]["application/json"]["schema"]
                assert schema.get("properties"), f"{where}: a body schema without properties"
                assert {"400", "422"} <= codes, where
            if "/upload/" in path:
                assert {"multipart/form-data", "text/csv"} <= set(body["content"]), where


def _wrong(schema):
    """A value of the wrong type for `schema`."""
    return 12345 if schema.get("type") in ("string", "object", "array", "boolean", None) else "not-a-number"


def test_every_json_body_is_checked_against_its_declaration(server):
    """For each route with a JSON body: a body missing a required field, or
    with a field of the wrong type, is refused with 400 naming the field,
    before the handler runs (nothing is created)."""
    o = server.onboard("contract", scopes=["recommendations:read", "interactions:write", "data:write",
                                           "models:train", "models:read", "analytics:read"])
    tid = o["tenant"]["id"]
    doc = server.request("GET", "/openapi.json").json()
    tried = 0
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            if not body:
                continue
            schema = body["schema"]
            concrete = path.replace("{", "X").replace("}", "")
            if "tenant_id" in schema["properties"]:
                concrete += f"?tenant_id={tid}"
            required = [f for f in schema.get("required", []) if f != "tenant_id"]
            if required:
                r = server.admin(method.upper(), concrete, {})
                assert r.status == 400, (method, path, r)
                assert r.json()["error"]["details"]["field"] == required[0], (method, path, r)
            # Every required field present but of the wrong type: the first is named.
            fields = required or [next(k for k in schema["properties"] if k != "tenant_id")]
            wrong = {f: _wrong(schema["properties"][f]) for f in fields}
            r = server.admin(method.upper(), concrete, wrong)
            assert r.status == 400, (method, path, wrong, r)
            assert r.json()["error"]["details"]["field"] == fields[0], (method, path, r)
            tried += 1
    assert tried >= 15
    # Nothing was created by the refused requests: no item, user, key or tenant.
    assert server.admin("GET", f"/api/v1/items/Xitem_id?tenant_id={tid}").status == 404
    assert len(server.admin("GET", f"/api/v1/admin/users?tenant_id={tid}").json()["users"]) == 1
    assert len(server.admin("GET", f"/api/v1/api-keys?tenant_id={tid}").json()["api_keys"]) == 1
    assert len(server.admin("GET", "/api/v1/admin/tenants").json()["tenants"]) == 1


def test_declared_query_parameters_are_checked(server):
    o = server.onboard("params", scopes=["data:write", "recommendations:read", "models:read",
                                         "interactions:write"])
    k = o["api_key"]
    for target in ["/api/v1/items?limit=0", "/api/v1/items?cursor=-1", "/api/v1/items?limit=ten",
                   "/api/v1/recommendations/popular?count=0", "/api/v1/data/events?after=x",
                   "/api/v1/training?limit=501"]:
        r = server.request("GET", target, token=k, port="gateway")
        assert r.status == 400, (target, r)
        assert r.json()["error"]["details"]["field"] == target.split("?")[1].split("=")[0], (target, r)
    r = server.request("POST", "/api/v1/upload/items?mode=merge", raw=b"item_id\nA\n", token=k,
                       headers={"Content-Type": "text/csv"})
    assert r.status == 422 and r.json()["error"]["details"]["field"] == "mode", r
    r = server.request("POST", "/api/v1/interactions", {"user_id": "u", "interaction_type": "view", "item_id": "i"},
                       token=k, headers={"Idempotency-Key": "k" * 300})
    assert r.status == 400 and "Idempotency-Key" in r.json()["error"]["message"], r


def test_the_inventory_in_docs_is_the_served_document(server):
    """docs/openapi.json is the API's inventory (OWASP API9, docs/security.md),
    reviewed with every change to a route and read by the JSON body fuzz
    target (tests/fuzz). Rewrite it with EMBEDREC_UPDATE_INVENTORY=1."""
    import os
    from pathlib import Path
    served = json.dumps(server.request("GET", "/openapi.json").json(), indent=2, ensure_ascii=False) + "\n"
    path = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
    if os.environ.get("EMBEDREC_UPDATE_INVENTORY"):
        path.write_text(served)
    assert path.read_text() == served, (
        f"{path} differs from the routes served: review the change, then rewrite it with "
        "EMBEDREC_UPDATE_INVENTORY=1 python3 -m pytest tests/e2e/test_contract.py -k inventory")
