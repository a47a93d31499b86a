from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from governance import selectors


@login_required
def home(request):
    return render(request, "governance/home.html", selectors.home_queues(user=request.user))


@login_required
def notification_list(request):
    notifications = request.user.notifications.all()[:100]
    return render(request, "governance/notification_list.html", {"notifications": notifications})
