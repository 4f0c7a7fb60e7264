"""/metrics: closed by default in production, open to a token or allowed networks;
request counts and durations summed over processes (through Redis when set);
business gauges computed at scrape time."""

from __future__ import annotations

import pytest
import redis
from django.conf import settings as django_settings

from distribly import metrics
from distribly.metrics import RequestMetrics
from sales.models import Delivery

pytestmark = pytest.mark.django_db

TOKEN = "t" * 40


def parse(text: str) -> dict[str, float]:
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def scrape(client, **headers) -> dict[str, float]:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return parse(response.content.decode())


@pytest.fixture
def token(settings):
    settings.DEBUG = False
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_NETWORKS = []


def test_closed_in_production_when_nothing_is_configured(client, settings):
    settings.DEBUG = False
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = []
    assert client.get("/metrics").status_code == 404
    assert (
        client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404
    )


def test_open_with_debug_on_and_nothing_configured(client, settings):
    settings.DEBUG = True
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = []
    assert client.get("/metrics").status_code == 200


def test_a_bearer_token_opens_it_and_a_wrong_one_does_not(client, token):
    assert client.get("/metrics").status_code == 404
    wrong = {"Authorization": "Bearer " + "x" * 40}
    assert client.get("/metrics", headers=wrong).status_code == 404
    right = {"Authorization": f"Bearer {TOKEN}"}
    assert client.get("/metrics", headers=right).status_code == 200


def test_allowed_networks_open_it_for_their_addresses_only(client, settings):
    settings.DEBUG = False
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8", "fd00::/8"]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="fd00::5").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7").status_code == 404
    # a forged X-Forwarded-For is not believed without proxies of ours
    forged = client.get(
        "/metrics", REMOTE_ADDR="192.0.2.7", HTTP_X_FORWARDED_FOR="10.1.2.3"
    )
    assert forged.status_code == 404
    # Through our own proxies (the address the chain gives is the proxy's when the
    # header is short): the allow-list is for direct scrapes only.
    settings.TRUSTED_PROXY_COUNT = 2
    via_proxy = client.get(
        "/metrics", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="10.9.9.9"
    )
    assert via_proxy.status_code == 404


def test_requests_are_counted_by_method_and_status_class_with_durations(client, token):
    before = scrape(client)
    assert client.get("/").status_code == 200
    assert client.get("/no-such-page/").status_code == 404
    assert client.post("/accounts/login/", {}).status_code == 200
    client.get("/healthz")  # not traffic: answered before the middleware
    after = scrape(client)

    def delta(name: str) -> float:
        return after.get(name, 0) - before.get(name, 0)

    # the first scrape itself is counted too
    assert delta('distribly_http_requests_total{method="GET",status="2xx"}') == 2
    assert delta('distribly_http_requests_total{method="GET",status="4xx"}') == 1
    assert delta('distribly_http_requests_total{method="POST",status="2xx"}') == 1
    name = "distribly_http_request_duration_seconds"
    assert delta(f"{name}_count") == 4
    assert delta(f'{name}_bucket{{le="+Inf"}}') == 4
    assert delta(f"{name}_sum") > 0
    buckets = [v for k, v in after.items() if k.startswith(f"{name}_bucket")]
    assert buckets == sorted(buckets)  # cumulative


def test_business_gauges(client, token, active_listing, buy):
    listing = active_listing(codes=5)
    order = buy(listing, quantity=2)
    Delivery.objects.filter(order=order).update(status=Delivery.Status.FAILED)
    samples = scrape(client)
    assert samples["distribly_codes_imported"] == 5
    assert samples["distribly_purchases"] == 1
    assert samples['distribly_deliveries{status="failed"}'] == 1
    assert samples['distribly_deliveries{status="pending"}'] == 0
    assert samples["distribly_webhook_backlog"] == 0
    assert samples["distribly_claims_open"] == 0
    if django_settings.REDIS_URL:
        assert samples['distribly_celery_queue_length{queue="celery"}'] >= 0
        assert samples["distribly_redis_up"] == 1


def test_the_page_never_shows_a_code_value(client, token, sold_code):
    *_rest, value = sold_code()
    assert (
        value
        not in client.get(
            "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
        ).content.decode()
    )


@pytest.mark.skipif(not django_settings.REDIS_URL, reason="needs Redis (set REDIS_URL)")
def test_counts_of_several_processes_add_up_in_redis(settings):
    key = "distribly:test-metrics"
    store = redis.Redis.from_url(settings.REDIS_URL)
    store.delete(key)
    first, second = RequestMetrics(key), RequestMetrics(key)  # two gunicorn workers
    try:
        first.record("GET", 200, 0.02)
        first.record("GET", 503, 0.3)
        second.record("GET", 200, 0.004)
        second.record("BREW", 418, 20.0)
        assert second.flush()
        counts, duration = first.totals()  # the scrape flushes its own process
        assert counts["requests|GET|2xx"] == 2
        assert counts["requests|GET|5xx"] == 1
        assert counts["requests|other|4xx"] == 1
        assert counts["count"] == 4
        assert counts["bucket|0.005"] == 1
        assert "bucket|10.0" not in counts  # 20 s falls in +Inf only
        assert duration == pytest.approx(20.324)
        # a flush that cannot reach Redis keeps its counts for the next one
        first.record("POST", 201, 0.1)
        metrics._redis.cache_clear()
        settings.REDIS_URL = "redis://127.0.0.1:1/0"
        assert not first.flush()
        assert first.counts["requests|POST|2xx"] == 1
    finally:
        metrics._redis.cache_clear()
        store.delete(key)
