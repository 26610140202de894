from django.urls import path

from . import views

app_name = "elicitation"

urlpatterns = [
    path("join/<str:token>/", views.join, name="join"),
    path("c/<slug:slug>/", views.home, name="home"),
    path("c/<slug:slug>/finish/", views.finish, name="finish"),
    path("c/<slug:slug>/withdraw/", views.withdraw, name="withdraw"),
]
