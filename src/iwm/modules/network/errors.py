from iwm.core.errors import DomainError, NotFound


class PartnerNotFound(NotFound):
    code, message = "PARTNER_NOT_FOUND", "Partner not found"


class AlreadyPartner(DomainError):
    status_code, code, message = 409, "ALREADY_PARTNER", "This user is already a partner"


class RankNotFound(NotFound):
    code, message = "RANK_NOT_FOUND", "Rank not found"
