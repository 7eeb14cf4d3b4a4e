"""Words of Django's admin and of django-q2 that their Nepali catalogues lack (Django 5.2, django-q2 1.x).

Never imported: listed so that `make messages` extracts them into the demo project's catalogue,
config/locale/ne (LOCALE_PATHS), whose translations Django then prefers. The msgids are Django's and
django-q2's own, character for character; a word their own catalogues translate is not repeated here.
"""

from django.utils.translation import gettext_noop, ngettext_lazy

DJANGO_ADMIN = (
    # Django 5.2 looks this up as a plural; its Nepali catalogue has it as two separate strings only.
    ngettext_lazy("Please correct the error below.", "Please correct the errors below.", "counter"),
    gettext_noop("Show counts"),
    gettext_noop("Hide counts"),
    gettext_noop("Clear all filters"),
    gettext_noop("Start typing to filter…"),
    gettext_noop("Filter navigation items"),
    gettext_noop("Toggle navigation"),
    gettext_noop("View"),
    gettext_noop("The {name} “{obj}” was added successfully."),
    gettext_noop("The {name} “{obj}” was added successfully. You may add another {name} below."),
    gettext_noop("The {name} “{obj}” was changed successfully."),
    gettext_noop("The {name} “{obj}” was changed successfully. You may edit it again below."),
    gettext_noop("The {name} “{obj}” was changed successfully. You may add another {name} below."),
    gettext_noop("The %(name)s “%(obj)s” was deleted successfully."),
    gettext_noop(
        'Are you sure you want to delete the %(object_name)s "%(escaped_object)s"? '
        "All of the following related items will be deleted:"
    ),
    gettext_noop("Summary"),
    gettext_noop("Objects"),
    gettext_noop("Yes, I’m sure"),
)

# The names django-q2's admin shows in the sidebar (its app name is Q_CLUSTER["label"], in settings.py).
DJANGO_Q2 = (
    gettext_noop("Successful tasks"),
    gettext_noop("Failed tasks"),
    gettext_noop("Scheduled tasks"),
    gettext_noop("Queued tasks"),
)
