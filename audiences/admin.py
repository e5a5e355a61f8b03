"""Admin pages of audiences, uploads, members, LINE Tags and the LINE user directory, one module
per workflow (Django's autodiscovery imports this one):

- ``admin_audiences``: audiences (list, change page, share, combine, export, rename, delete);
- ``admin_uploads``: the upload form, the check's summary and confirmation, the progress page;
- ``admin_insight``: an audience's insight pages and the overlap of two audiences;
- ``admin_sharing``: sharing per linked account, LINE Tag sharing, lookalike audiences;
- ``admin_tags``: LINE Tags (code snippets, access tokens, web-traffic audiences);
- ``admin_people``: audience members and the LINE user directory (LINE staff only).

Thin: rows from ``permissions.visible``, rights from ``permissions.can``, every change through
``audiences.services``. Other organizations' objects answer 404.
"""

from .admin_audiences import AudienceAdmin, AudienceShareInline, SourceFilter  # noqa: F401
from .admin_insight import AudienceInsightMixin  # noqa: F401
from .admin_people import (  # noqa: F401  (registered on import; names kept importable here)
    AudienceChoiceFilter,
    AudienceMemberAdmin,
    FriendshipInline,
    LineUserAdmin,
)
from .admin_sharing import LinkSharingAdmin  # noqa: F401
from .admin_tags import LineTagAdmin  # noqa: F401
from .admin_uploads import AudienceUploadAdmin, AudienceUploadMixin  # noqa: F401
