"""Models in memory on demand (issue 14): nothing is read at start-up, a
tenant's models are read on its first request, and beyond the memory budget
the least recently used tenants' models are dropped and read again when
asked for, with what is resident and evicted in /metrics."""
import subprocess

from conftest import ADMIN_TOKEN, BIN, wait_for
from test_training import train, upload_shop, wait_done


def metric(server, name):
    for line in server.request("GET", "/metrics").body.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} is not in /metrics")


def recommend(server, shop, user):
    r = server.request("POST", "/api/v1/recommendations", {"user_id": user, "count": 5},
                       token=shop["api_key"])
    assert r.status == 200, r
    return r.json()


def test_models_are_read_on_first_use_and_the_least_recently_used_go(make_server):
    # A budget of one byte: room for one tenant's models at a time.
    s = make_server(env={"EMBEDREC_ADMIN_TOKEN": ADMIN_TOKEN, "EMBEDREC_MEMORY_BUDGET": "1"})
    assert metric(s, "embedrec_models_memory_budget_bytes") == 1
    shops = [upload_shop(s, f"resident{k}") for k in range(3)]
    for o in shops:
        o["version"] = wait_done(s, o["api_key"], train(s, o["api_key"]).json()["job_id"])["model_version"]
    # Each deploy put its model in memory and pushed the one before out.
    assert metric(s, "embedrec_models_resident_tenants") == 1
    assert metric(s, "embedrec_model_evictions") == 2
    loads = metric(s, "embedrec_model_loads")  # each job looked for a deployed model to compare with
    # Each tenant in turn: its own model is read again and answers.
    for round_ in range(2):
        for k, o in enumerate(shops):
            m = recommend(s, o, f"U{10 * round_ + k}")["metadata"]
            assert m["model_version"] == o["version"] and m["algorithm"] == "lightgcn"
    assert metric(s, "embedrec_models_resident_tenants") == 1
    assert metric(s, "embedrec_model_loads") == loads + 6  # every request found another tenant resident
    assert metric(s, "embedrec_model_evictions") == 2 + 6
    assert 0 < metric(s, "embedrec_models_resident_bytes")

    # A restart reads no model until one is asked for.
    s.stop()
    s.start()
    assert metric(s, "embedrec_models_resident_tenants") == 0
    assert metric(s, "embedrec_model_loads") == 0
    m = recommend(s, shops[1], "U40")["metadata"]
    assert m["model_version"] == shops[1]["version"]
    assert metric(s, "embedrec_models_resident_tenants") == 1
    assert metric(s, "embedrec_model_loads") == 1


def test_a_generous_budget_keeps_every_tenant(make_server):
    s = make_server(env={"EMBEDREC_ADMIN_TOKEN": ADMIN_TOKEN, "EMBEDREC_MEMORY_BUDGET": "1GiB"})
    assert metric(s, "embedrec_models_memory_budget_bytes") == 1 << 30
    shops = [upload_shop(s, f"kept{k}") for k in range(2)]
    for o in shops:
        wait_done(s, o["api_key"], train(s, o["api_key"]).json()["job_id"])
    for k, o in enumerate(shops):
        recommend(s, o, f"U{k}")
    assert metric(s, "embedrec_models_resident_tenants") == 2
    assert metric(s, "embedrec_model_evictions") == 0


def test_a_budget_that_is_not_a_size_is_refused(tmp_path):
    for bad in ("lots", "12 apples", "-5M"):
        p = subprocess.run([BIN, "serve", "--data-dir", str(tmp_path / "d"), "--memory-budget", bad],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode != 0 and "not a size" in p.stderr, (bad, p.stderr)


def test_an_idle_tenants_database_is_closed_and_reopened_on_use(make_server):
    s = make_server(env={"EMBEDREC_ADMIN_TOKEN": ADMIN_TOKEN, "EMBEDREC_TENANT_IDLE_SECONDS": "1"})
    a, b = (upload_shop(s, f"idle{k}") for k in range(2))
    for o in (a, b):
        o["version"] = wait_done(s, o["api_key"], train(s, o["api_key"]).json()["job_id"])["model_version"]
    first = recommend(s, a, "U1")
    recommend(s, b, "U1")
    assert metric(s, "embedrec_tenant_databases_open") == 2
    assert metric(s, "embedrec_models_resident_tenants") == 2

    # b keeps being used; a, idle, is closed by one of b's requests, and its
    # model leaves memory with it.
    def a_closed():
        recommend(s, b, "U2")
        return metric(s, "embedrec_tenant_databases_open") == 1
    wait_for(a_closed, timeout=20, what="the idle tenant's database to close")
    assert metric(s, "embedrec_models_resident_tenants") == 1
    # a answers again, the same as before, and a user not asked about before
    # brings its model back.
    again = recommend(s, a, "U1")
    assert again["metadata"]["model_version"] == a["version"]
    assert [r["item_id"] for r in again["recommendations"]] == [r["item_id"] for r in first["recommendations"]]
    assert recommend(s, a, "U3")["metadata"]["model_version"] == a["version"]
    assert metric(s, "embedrec_tenant_databases_open") == 2
    assert metric(s, "embedrec_models_resident_tenants") == 2


def popular(server, shop):
    r = server.request("GET", "/api/v1/recommendations/popular?count=5", token=shop["api_key"])
    assert r.status == 200, r
    return [(i["item_id"], i["score"]) for i in r.json()["recommendations"]]


def ranked(answer):
    return [(i["item_id"], i["score"]) for i in answer["recommendations"]]


def test_catalogs_and_popularity_count_against_the_budget_too(make_server):
    # No model: what serving holds is the catalog, popularity and profiles.
    s = make_server(env={"EMBEDREC_ADMIN_TOKEN": ADMIN_TOKEN, "EMBEDREC_MEMORY_BUDGET": "1"})
    assert metric(s, "embedrec_serving_memory_budget_bytes") == 1
    a, b = (upload_shop(s, f"budgeted{k}") for k in range(2))
    first = {"a": popular(s, a), "a_user": ranked(recommend(s, a, "U1"))}
    assert metric(s, "embedrec_serving_resident_tenants") == 1
    assert metric(s, "embedrec_catalogs_resident_bytes") > 0
    assert metric(s, "embedrec_activity_resident_bytes") > 0
    assert metric(s, "embedrec_tenant_evictions") == 0
    # b's first request pushes a out whole: catalog, popularity, profiles.
    popular(s, b)
    assert metric(s, "embedrec_serving_resident_tenants") == 1
    assert metric(s, "embedrec_tenant_evictions") == 1
    # a is read again and answers as before.
    assert popular(s, a) == first["a"]
    assert ranked(recommend(s, a, "U1")) == first["a_user"]
    assert metric(s, "embedrec_tenant_evictions") == 2


def test_what_each_tenant_holds_is_in_metrics_under_a_generous_budget(make_server):
    s = make_server(env={"EMBEDREC_ADMIN_TOKEN": ADMIN_TOKEN, "EMBEDREC_MEMORY_BUDGET": "1GiB"})
    shops = [upload_shop(s, f"counted{k}") for k in range(3)]
    held = []
    for o in shops:
        popular(s, o)
        recommend(s, o, "U1")
        held.append(metric(s, "embedrec_catalogs_resident_bytes") + metric(s, "embedrec_activity_resident_bytes"))
    assert held[0] > 0 and held[0] < held[1] < held[2]  # each tenant adds what it holds
    assert metric(s, "embedrec_serving_resident_tenants") == 3
    assert metric(s, "embedrec_tenant_evictions") == 0
    total = metric(s, "embedrec_serving_resident_bytes")
    assert total == held[2] + metric(s, "embedrec_models_resident_bytes")
    # Beside the estimates, what the allocator and the kernel hold (the
    # server runs on jemalloc): live allocations within what it keeps
    # resident (an upper bound, which may exceed the RSS), within the
    # process's RSS, and more than the estimates.
    allocated = metric(s, "embedrec_heap_allocated_bytes")
    resident = metric(s, "embedrec_heap_resident_bytes")
    rss = metric(s, "process_resident_memory_bytes")
    assert total < allocated <= resident and allocated < rss, (total, allocated, resident, rss)


def test_the_open_files_limit_is_raised_from_a_low_soft_limit(make_server):
    """A node holds a few files per tenant it serves: started under a soft
    limit of 256 (a shell's default is often 1,024, which a thousand tenants
    pass), it raises it to the hard limit and says so in /metrics."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= 256:
        import pytest
        pytest.skip(f"the hard limit is {hard}: nothing to raise it to")
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
    try:
        s = make_server()  # inherits the lowered soft limit
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    limit = metric(s, "process_max_fds")
    want = 1 << 20 if hard == resource.RLIM_INFINITY else min(hard, 1 << 20)
    assert limit == want, (limit, hard)
    assert 0 < metric(s, "process_open_fds") < limit


def test_the_logs_recent_answers_count_against_the_budget(make_server):
    """The recommendation log finds a user's recent answers (for attribution)
    through an index in memory, kept from the tenant's first answer on; it
    counts per tenant with what serving holds, under the budget."""
    import http.client
    import json
    from test_training import SCOPES, shop_csvs
    s = make_server(env={"EMBEDREC_ADMIN_TOKEN": ADMIN_TOKEN, "EMBEDREC_MEMORY_BUDGET": "1GiB"})
    o = s.onboard("logged", scopes=SCOPES)
    assert s.upload("/api/v1/upload/items", shop_csvs()[0], o["api_key"]).status == 200
    assert metric(s, "embedrec_recommendation_log_budgeted_bytes") == 0
    conn = http.client.HTTPConnection("127.0.0.1", s.ports["gateway"], timeout=30)
    headers = {"Authorization": f"Bearer {o['api_key']}", "Content-Type": "application/json"}
    for k in range(3000):  # an answer each for 3,000 visitors
        conn.request("POST", "/api/v1/recommendations", json.dumps({"user_id": f"V{k}", "count": 3}), headers)
        r = conn.getresponse()
        r.read()
        assert r.status == 200
    conn.close()

    last = []

    def told():  # the log's writer tells the index's growth after each batch; until it settles
        counted = metric(s, "embedrec_recommendation_log_budgeted_bytes")
        held = metric(s, "embedrec_recommendation_log_resident_bytes")
        last.append((counted, held))
        settled = len(last) >= 8 and len(set(last[-8:])) == 1  # unchanged over ~150 ms: the writer is done
        return settled and counted > 64 << 10 and abs(held - counted) <= min(64 << 10, counted / 16)
    wait_for(told, timeout=20, what="the log's index counted under the budget")
    # One scrape: the writer may still be telling the last batches.
    scrape = {line.split()[0]: float(line.split()[1]) for line in s.request("GET", "/metrics").body.splitlines()
              if line.startswith("embedrec_") and len(line.split()) == 2}
    parts = sum(scrape[n] for n in ("embedrec_catalogs_resident_bytes", "embedrec_activity_resident_bytes",
                                    "embedrec_models_resident_bytes", "embedrec_recommendation_log_budgeted_bytes"))
    assert scrape["embedrec_serving_resident_bytes"] == parts, scrape
