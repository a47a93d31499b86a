from django.urls import path

from audits import views

app_name = "audits"

urlpatterns = [
    path("", views.audit_list, name="audit-list"),
    path("endpoints/", views.endpoint_list, name="endpoint-list"),
]
