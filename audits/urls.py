from django.urls import path

from audits import views

app_name = "audits"

urlpatterns = [
    path("", views.audit_list, name="audit-list"),
    path("new/", views.audit_create, name="audit-create"),
    path("<int:pk>/", views.audit_detail, name="audit-detail"),
    path("<int:pk>/progress.json", views.audit_progress, name="audit-progress"),
    path("<int:pk>/start/", views.audit_start, name="audit-start"),
    path("<int:pk>/cancel/", views.audit_cancel, name="audit-cancel"),
    path("<int:pk>/rescore/", views.audit_rescore, name="audit-rescore"),
    path("<int:pk>/export.<str:fmt>", views.audit_export, name="audit-export"),
    path("<int:pk>/results/", views.audit_results, name="audit-results"),
    path("<int:pk>/conversations/", views.audit_conversations, name="audit-conversations"),
    path("conversations/<int:pk>/", views.conversation_detail, name="conversation-detail"),
    path("adjudication/", views.adjudication_queue, name="adjudication-queue"),
    path("endpoints/", views.endpoint_list, name="endpoint-list"),
    path("endpoints/new/", views.endpoint_create, name="endpoint-create"),
    path("endpoints/<int:pk>/", views.endpoint_detail, name="endpoint-detail"),
    path("endpoints/<int:pk>/edit/", views.endpoint_edit, name="endpoint-edit"),
    path("endpoints/<int:pk>/test/", views.endpoint_test, name="endpoint-test"),
]
