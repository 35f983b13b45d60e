"""Archive storage: a local folder, an S3 bucket or an Azure Blob container behind one small API
(:class:`ArchiveStore`), over obstore. The only importer of obstore."""

from tikrelay.archive.storage import ArchiveStore, StoredObject, check_key
from tikrelay.archive.targets import open_archive, remove_stale_staging

__all__ = ["ArchiveStore", "StoredObject", "check_key", "open_archive", "remove_stale_staging"]
