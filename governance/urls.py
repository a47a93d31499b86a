from django.urls import path

from governance import dashboard, views

app_name = "governance"

urlpatterns = [
    path("notifications/", views.notification_list, name="notification-list"),
    path("dashboard/", dashboard.dashboard, name="dashboard"),
    path("dashboard/export.csv", dashboard.dashboard_csv, name="dashboard-csv"),
    path("requests/", views.request_list, name="request-list"),
    path("requests/new/", views.request_create, name="request-create"),
    path("requests/<int:pk>/", views.request_detail, name="request-detail"),
    path("requests/<int:pk>/edit/", views.request_edit, name="request-edit"),
    path("requests/<int:pk>/attest/", views.request_attest, name="request-attest"),
    path("requests/<int:pk>/evidence/", views.request_evidence, name="request-evidence"),
    path("requests/<int:pk>/actions/<slug:action>/", views.request_action, name="request-action"),
    path("requests/<int:pk>/letter/", views.request_letter, name="request-letter"),
    path("requests/<int:pk>/letter.pdf", views.request_letter, {"fmt": "pdf"}, name="request-letter-pdf"),
    path("requests/<int:pk>/packet/", views.request_packet, name="request-packet"),
    path("requests/<int:pk>/packet.pdf", views.request_packet, {"fmt": "pdf"}, name="request-packet-pdf"),
    path("reviews/", views.review_queue, name="review-queue"),
    path("systems/", views.system_list, name="system-list"),
    path("systems/new/", views.system_create, name="system-create"),
    path("systems/<int:pk>/", views.system_detail, name="system-detail"),
    path("meetings/", views.meeting_list, name="meeting-list"),
    path("meetings/<int:pk>/", views.meeting_detail, name="meeting-detail"),
    path("policies/", views.policy_list, name="policy-list"),
    path("events/", views.event_list, name="event-list"),
    path("incidents/<int:pk>/", views.incident_detail, name="incident-detail"),
]
