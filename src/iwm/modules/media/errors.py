from iwm.core.errors import NotFound


class PhotoNotFound(NotFound):
    code, message = "PHOTO_NOT_FOUND", "Photo not found or link expired"
