from django.contrib import admin

from .models import IdTag, MeterValue, Tariff, Transaction, UnmatchedStopTransaction

for model in (IdTag, MeterValue, Tariff, Transaction, UnmatchedStopTransaction):
    admin.site.register(model)
