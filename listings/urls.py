from __future__ import annotations

from django.urls import path

from . import views

app_name = "listings"
urlpatterns = [
    path("search/", views.search, name="search"),
    path("c/<slug:slug>/", views.category, name="category"),
    path("sellers/<int:pk>/", views.storefront, name="storefront"),
    path("items/<int:pk>/", views.listing_detail, name="listing-detail"),
    path("items/<int:pk>/embed/", views.listing_embed, name="listing-embed"),
    path("items/<int:pk>/waitlist/", views.waitlist_join_view, name="waitlist-join"),
    path(
        "waitlist/<str:token>/confirm/",
        views.waitlist_confirm_view,
        name="waitlist-confirm",
    ),
    path(
        "waitlist/<str:token>/leave/", views.waitlist_leave_view, name="waitlist-leave"
    ),
    path("oembed", views.oembed, name="oembed"),
    path("robots.txt", views.robots_txt, name="robots"),
    path("sell/", views.listing_add, name="listing-add"),
    path("sell/items/", views.listing_list, name="listing-list"),
    path("sell/items/<int:pk>/edit/", views.listing_edit, name="listing-edit"),
    path("sell/items/<int:pk>/pause/", views.listing_pause_view, name="listing-pause"),
    path(
        "sell/items/<int:pk>/resume/", views.listing_resume_view, name="listing-resume"
    ),
    path(
        "sell/items/<int:pk>/archive/",
        views.listing_archive_view,
        name="listing-archive",
    ),
]
