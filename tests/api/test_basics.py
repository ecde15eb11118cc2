"""The API's contract: problem+json, strict inputs, keys and roles, idempotency, request ids."""

from __future__ import annotations

import concurrent.futures

import httpx

from tests.api.market import DOUBLE11, build_market, ok
from tests.conftest import LiveServer


def test_health_and_openapi(server: LiveServer) -> None:
    with server.client() as client:
        assert ok(client.get("/healthz"))["status"] == "ok"
        spec = ok(client.get("/openapi.json"))
        assert "/j/{code}" in spec["paths"] and "/v1/links" in spec["paths"]
        # refusals are documented as what is sent: problem+json, pages on the jump
        create = spec["paths"]["/v1/tenants"]["post"]["responses"]
        assert "422" not in create and "application/problem+json" in create["4XX"]["content"]
        assert "Problem" in spec["components"]["schemas"]
        assert "text/html" in spec["paths"]["/j/{code}"]["get"]["responses"]["404"]["content"]


def test_errors_are_problem_json_with_a_code(server: LiveServer) -> None:
    with server.client() as anonymous:
        answer = anonymous.get("/v1/campaigns")
        assert answer.status_code == 401
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["code"] == "unauthorized"
        bad = server.client("htk_nope_nope")
        assert bad.get("/v1/me").json()["code"] == "unauthorized"
        bad.close()
        assert anonymous.get("/nowhere").json()["code"] == "not_found"
        assert anonymous.delete("/healthz").json()["code"] == "method_not_allowed"
    with server.client(server.world.operator_key) as operator:  # found by tests/api/test_fuzz
        nowhere = operator.post(
            "/v1/tenants", json={"kind": "shelf_platform", "name": "x", "platform_id": "nowhere"}
        )
        assert nowhere.status_code == 422 and "names no platform" in nowhere.json()["detail"]


def test_oversized_bodies_are_refused_before_they_are_read(server: LiveServer) -> None:
    limit = server.world.settings.max_body_bytes
    big = b"[" + b"0," * (limit // 2) + b"0]"
    with server.client(server.world.operator_key) as client:
        declared = client.post(
            "/v1/tenants", content=big, headers={"content-type": "application/json"}
        )
        assert declared.status_code == 413 and declared.json()["code"] == "payload_too_large"

        def chunks():  # type: ignore[no-untyped-def]
            for start in range(0, len(big), 65536):
                yield big[start : start + 65536]

        chunked = client.post(
            "/v1/tenants", content=chunks(), headers={"content-type": "application/json"}
        )
        assert chunked.status_code == 413 and chunked.json()["code"] == "payload_too_large"
        # a chunked body within the limit reaches the handler whole
        small = b'{"kind": "streamer", "name": "chunked"}'
        made = client.post(
            "/v1/tenants",
            content=iter([small[:10], small[10:]]),
            headers={"content-type": "application/json"},
        )
        assert made.status_code == 201, made.text


def test_strict_inputs_false_is_not_a_number(server: LiveServer) -> None:
    m = build_market(server)
    try:
        douyin = m.client("douyin")
        base = {"surface": "splash", "name": "s", "pricing_model": "cpm", "price_fen": 1000}
        for field, value in [
            ("price_fen", False),
            ("price_fen", "1000"),
            ("price_fen", 10.5),
            ("price_fen", -1),
            ("surface", "banner"),
            ("extra", 1),
        ]:
            answer = douyin.post("/v1/placements", json={**base, field: value})
            assert answer.status_code == 422, (field, value)
            problem = answer.json()
            assert problem["code"] == "validation_failed" and problem["errors"]
        assert (
            douyin.post(
                "/v1/placements", content=b"{not json", headers={"content-type": "application/json"}
            ).status_code
            == 422
        )
        campaign = {
            "name": "c",
            "target_platform_id": "taobao",
            "placement_ids": ["x"],
            "billing_model": "cpc",
            "cpc_fen": 5,
            "budget_fen": 100,
            "starts_at": "2024-10-14T00:00:00",
            "ends_at": "2024-11-12T00:00:00+08:00",
        }
        naive = m.client("tmall").post("/v1/campaigns", json=campaign)
        assert naive.status_code == 422  # a time without an offset is ambiguous
    finally:
        m.close()


def test_roles_and_revoked_keys(server: LiveServer) -> None:
    m = build_market(server)
    try:
        tenant = m.tenants["douyin"]
        analyst = ok(
            m.client("douyin").post(f"/v1/tenants/{tenant}/keys", json={"role": "analyst"}), 201
        )
        reader = server.client(analyst["key"])
        assert ok(reader.get("/v1/me"))["role"] == "analyst"
        denied = reader.post(
            "/v1/placements",
            json={"surface": "feed", "name": "f", "pricing_model": "cpc", "price_fen": 5},
        )
        assert denied.status_code == 403 and denied.json()["code"] == "forbidden"
        listed = ok(m.client("douyin").get(f"/v1/tenants/{tenant}/keys"))
        assert all(k["key"] is None for k in listed)  # secrets are never shown again
        ok(m.client("douyin").delete(f"/v1/tenants/{tenant}/keys/{analyst['id']}"))
        assert reader.get("/v1/me").status_code == 401
        reader.close()
        # only operators make tenants; a shelf platform makes merchants under itself
        made = m.client("douyin").post("/v1/tenants", json={"kind": "operator", "name": "x"})
        assert made.status_code == 403
        merchant = ok(
            m.client("jd").post("/v1/tenants", json={"kind": "merchant", "name": "JD shop"}), 201
        )
        assert merchant["parent_id"] == m.tenants["jd"]
    finally:
        m.close()


def test_idempotency_key_returns_the_first_answer(server: LiveServer) -> None:
    m = build_market(server)
    try:
        splash = m.placement("douyin", "splash")
        body = {
            "name": "once",
            "target_platform_id": "taobao",
            "placement_ids": [splash],
            "billing_model": "cpm",
            "cpm_fen": 3000,
            "budget_fen": 100_000,
            **DOUBLE11,
        }
        headers = {"Idempotency-Key": "campaign-0001"}

        def create(_: int) -> httpx.Response:
            with server.client(m.keys["tmall"]) as client:
                return client.post("/v1/campaigns", json=body, headers=headers)

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(create, range(8)))
        assert {a.status_code for a in answers} == {201}
        assert len({a.json()["id"] for a in answers}) == 1
        assert sum(a.headers.get("idempotent-replayed") == "true" for a in answers) == 7
        names = [c["name"] for c in ok(m.client("tmall").get("/v1/campaigns"))]
        assert names.count("once") == 1
        changed = m.client("tmall").post(
            "/v1/campaigns", json={**body, "name": "other"}, headers=headers
        )
        assert changed.status_code == 422 and changed.json()["code"] == "idempotency_key_reused"
    finally:
        m.close()


def test_request_ids_are_echoed_and_bounded(server: LiveServer) -> None:
    with server.client() as client:
        assert (
            client.get("/healthz", headers={"X-Request-Id": "abc-123"}).headers["x-request-id"]
            == "abc-123"
        )
        forged = client.get("/healthz", headers={"X-Request-Id": "x" * 200})
        assert forged.headers["x-request-id"] != "x" * 200


def test_campaign_rules(server: LiveServer) -> None:
    m = build_market(server)
    try:
        splash = m.placement("douyin", "splash")
        base = {
            "name": "c",
            "placement_ids": [splash],
            "billing_model": "cps",
            "budget_fen": 100,
            **DOUBLE11,
        }
        wrong = m.client("tmall").post(
            "/v1/campaigns", json={**base, "target_platform_id": "jd", "cps_rate_bp": 300}
        )
        assert wrong.status_code == 422 and wrong.json()["code"] == "wrong_platform"
        unpriced = m.client("tmall").post(
            "/v1/campaigns", json={**base, "target_platform_id": "taobao"}
        )
        assert unpriced.status_code == 422
        assert unpriced.json()["errors"][0]["loc"] == ["body", "cps_rate_bp"]
        seller = m.client("douyin").post(
            "/v1/campaigns", json={**base, "cps_rate_bp": 300, "target_platform_id": "taobao"}
        )
        assert seller.status_code == 403
    finally:
        m.close()


def test_policy_api_check_add_and_retire(server: LiveServer) -> None:
    m = build_market(server)
    try:
        check = ok(
            m.client("tmall").get(
                "/v1/policy-check",
                params={
                    "source": "kuaishou",
                    "target": "jd",
                    "surface": "feed",
                    "at": "2022-05-01T12:00:00+08:00",
                },
            )
        )
        assert check["allowed"] is False and check["rule"]["date_assumed"] is True
        assert "淘寶聯盟和京東聯盟" in check["rule"]["source_sentence"]
        history = ok(m.client("streamer").get("/v1/policies"))
        assert len(history) == 9
        # Kuaishou may not set Douyin's policy, only its own
        body = {
            "source_platform_id": "douyin",
            "target_platform_id": "jd",
            "modes": ["qr"],
            "valid_from": "2031-01-01T00:00:00+08:00",
        }
        assert m.client("kuaishou").post("/v1/policies", json=body).status_code == 403
        rule = ok(m.client("douyin").post("/v1/policies", json=body), 201)
        assert rule["version"] == 10 and rule["surface"] == "any"
        replaced = ok(
            m.client("douyin").post(
                "/v1/policies", json={**body, "modes": ["web", "app"], "replaces_id": rule["id"]}
            ),
            201,
        )
        assert replaced["version"] == 11
        assert len(ok(m.client("douyin").get("/v1/policies", params={"source": "douyin"}))) == 3
        everything = ok(m.client("douyin").get("/v1/policies", params={"include_retired": True}))
        assert any(p["id"] == rule["id"] and p["retired_at"] for p in everything)
    finally:
        m.close()


def test_impression_batches_are_idempotent_and_deduplicated(server: LiveServer) -> None:
    m = build_market(server)
    try:
        splash = m.placement("douyin", "splash")
        campaign = m.campaign("tmall", [splash])
        imps = [
            {
                "placement_id": splash,
                "campaign_id": campaign,
                "device_id": f"oaid-{i % 3}",
                "ts": "2024-11-11T00:00:01+08:00",
                "user_agent": "Mozilla/5.0 (iPhone) Mobile",
            }
            for i in range(5)
        ]
        imps.append(
            {
                "placement_id": splash,
                "ts": "2099-01-01T00:00:00+08:00",
                "user_agent": "Mozilla/5.0 (iPhone) Mobile",
            }
        )
        imps.append(
            {
                "placement_id": splash,
                "ts": "2024-11-11T00:00:02+08:00",
                "user_agent": "Googlebot/2.1 (+http://www.google.com/bot.html)",
            }
        )
        batch = {"batch_key": "douyin-2024-11-11-0001", "impressions": imps}
        first = ok(m.client("douyin").post("/v1/impressions", json=batch), 202)
        assert (first["received"], first["accepted"], first["duplicates"], first["bots"]) == (
            7,
            3,
            2,
            2,
        )
        again = ok(m.client("douyin").post("/v1/impressions", json=batch), 202)
        assert again["replayed"] is True and again["batch_id"] == first["batch_id"]
        other = m.client("kuaishou").post(
            "/v1/impressions", json={"batch_key": "k1", "impressions": imps[:1]}
        )
        assert other.status_code == 404  # not its placement
    finally:
        m.close()
