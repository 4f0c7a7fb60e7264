from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.contrib.sitemaps import views as sitemaps_views
from django.urls import include, path, re_path
from django.views.static import serve

from api.endpoints import api
from listings import views as listing_views

from . import views
from .metrics import metrics_view

SITEMAPS = {
    "listings": listing_views.ListingSitemap,
    "categories": listing_views.CategorySitemap,
    "storefronts": listing_views.StorefrontSitemap,
}

admin.site.site_header = "Distribly staff"
admin.site.site_title = "Distribly staff"

urlpatterns = [
    path("", listing_views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),  # Prometheus, closed by default
    path("api/v1/", api.urls),
    # An index of sections, each split in pages (Sitemap.limit URLs each): one file
    # of every listing would grow without bound.
    path(
        "sitemap.xml",
        sitemaps_views.index,
        {"sitemaps": SITEMAPS, "sitemap_url_name": "sitemap-section"},
        name="sitemap-index",
    ),
    path(
        "sitemap-<section>.xml",
        sitemaps_views.sitemap,
        {"sitemaps": SITEMAPS},
        name="sitemap-section",
    ),
    # Before the admin's own URLs: its login form has no throttle (see the view).
    path("admin/login/", views.admin_login, name="admin-login"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("account/", include("distribly.accounts.urls")),
    path("", include("listings.urls")),
    path("", include("codes.urls")),
    path("", include("sales.urls")),
    path("", include("api.urls")),
]

# Cover images on local storage: Django serves them when nothing in front does (the
# reverse proxy in docker-compose serves /media/ itself; S3 storage has its own URLs).
if not settings.MEDIA_S3_BUCKET and settings.MEDIA_URL.startswith("/"):
    urlpatterns.append(
        re_path(
            rf"^{settings.MEDIA_URL.strip('/')}/(?P<path>.*)$",
            serve,
            {"document_root": settings.MEDIA_ROOT},
        )
    )
