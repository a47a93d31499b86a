from django.urls import path

from governance import views

app_name = "governance"

urlpatterns = [
    path("notifications/", views.notification_list, name="notification-list"),
    path("requests/", views.request_list, name="request-list"),
    path("requests/<int:pk>/", views.request_detail, name="request-detail"),
    path("systems/", views.system_list, name="system-list"),
    path("systems/<int:pk>/", views.system_detail, name="system-detail"),
    path("meetings/", views.meeting_list, name="meeting-list"),
    path("meetings/<int:pk>/", views.meeting_detail, name="meeting-detail"),
]
