from django.urls import path

from governance import views

app_name = "governance"

urlpatterns = [
    path("notifications/", views.notification_list, name="notification-list"),
]
