"""The X12 code lists an acknowledgment or a claim status answer carries, in words.

999 (005010X231A1): IK5/AK9 results (element 717), IK5 and AK9 error codes (618, 716),
IK3 segment errors (620), IK4 element errors (621). 277CA/277 (005010X214, 005010X212):
claim status category codes (507), claim status codes (508, the ones front offices meet
most; an unlisted code is named by number) and entity identifier codes (98) in STC01-3.
"""

ACK_RESULTS = {  # IK501 / AK901
    "A": "accepted",
    "E": "accepted, but errors were noted",
    "M": "rejected: message authentication code failed",
    "P": "partially accepted: at least one transaction set was rejected",
    "R": "rejected",
    "W": "rejected: assurance failed validity tests",
    "X": "rejected: content after decryption could not be analyzed",
}

SET_ERRORS = {  # IK502-IK506 (618)
    "1": "transaction set not supported",
    "2": "transaction set trailer missing",
    "3": "transaction set control number in header and trailer do not match",
    "4": "number of included segments does not match actual count",
    "5": "one or more segments in error",
    "6": "missing or invalid transaction set identifier",
    "7": "missing or invalid transaction set control number",
    "8": "authentication key name unknown",
    "9": "encryption key name unknown",
    "10": "requested service (authentication or encryption) not available",
    "11": "unknown security recipient",
    "12": "incorrect message length (encryption only)",
    "13": "message authentication code failed",
    "15": "unknown security originator",
    "16": "syntax error in decrypted text",
    "17": "security not supported",
    "18": "transaction set not in functional group",
    "19": "invalid transaction set implementation convention reference",
    "23": "transaction set control number not unique within the functional group",
    "24": "S3E security end segment missing for S3S security start segment",
    "25": "S3S security start segment missing for S3E security end segment",
    "26": "S4E security end segment missing for S4S security start segment",
    "27": "S4S security start segment missing for S4E security end segment",
    "I5": "implementation: one or more segments in error",
    "I6": "implementation convention not supported",
}

GROUP_ERRORS = {  # AK905-AK909 (716)
    "1": "functional group not supported",
    "2": "functional group version not supported",
    "3": "functional group trailer missing",
    "4": "group control number in the functional group header and trailer do not agree",
    "5": "number of included transaction sets does not match actual count",
    "6": "group control number violates syntax",
    "10": "authentication key name unknown",
    "11": "encryption key name unknown",
    "12": "requested service (authentication or encryption) not available",
    "13": "unknown security recipient",
    "14": "unknown security originator",
    "15": "syntax error in decrypted text",
    "16": "security not supported",
    "17": "incorrect message length (encryption only)",
    "18": "message authentication code failed",
    "19": "functional group control number not unique within interchange",
    "23": "S3E security end segment missing for S3S security start segment",
    "24": "S3S security start segment missing for S3E security end segment",
    "25": "S4E security end segment missing for S4S security start segment",
    "26": "S4S security start segment missing for S4E security end segment",
}

SEGMENT_ERRORS = {  # IK304 (620)
    "1": "unrecognized segment ID",
    "2": "unexpected segment",
    "3": "required segment missing",
    "4": "loop occurs over maximum times",
    "5": "segment exceeds maximum use",
    "6": "segment not in defined transaction set",
    "7": "segment not in proper sequence",
    "8": "segment has data element errors",
    "I4": "implementation 'not used' segment present",
    "I6": "implementation dependent segment missing",
    "I7": "implementation loop occurs under minimum times",
    "I8": "implementation segment below minimum use",
    "I9": "implementation dependent 'not used' segment present",
}

ELEMENT_ERRORS = {  # IK403 (621)
    "1": "required data element missing",
    "2": "conditional required data element missing",
    "3": "too many data elements",
    "4": "data element too short",
    "5": "data element too long",
    "6": "invalid character in data element",
    "7": "invalid code value",
    "8": "invalid date",
    "9": "invalid time",
    "10": "exclusion condition violated",
    "12": "too many repetitions",
    "13": "too many components",
    "I6": "code value not used in implementation",
    "I9": "implementation dependent data element missing",
    "I10": "implementation 'not used' data element present",
    "I11": "implementation too few repetitions",
    "I12": "implementation pattern match failure",
    "I13": "implementation dependent 'not used' data element present",
}

CATEGORIES = {  # STC01-1 (507)
    "A0": "acknowledgment: forwarded",
    "A1": "acknowledgment: received",
    "A2": "acknowledgment: accepted into the adjudication system",
    "A3": "acknowledgment: returned as unprocessable",
    "A4": "acknowledgment: not found",
    "A5": "acknowledgment: split claim",
    "A6": "acknowledgment: rejected for missing information",
    "A7": "acknowledgment: rejected for invalid information",
    "A8": "acknowledgment: rejected for relational field in error",
    "D0": "data search unsuccessful",
    "E0": "response not possible: error on submitted request data",
    "E1": "response not possible: system status",
    "E2": "information holder is not responding",
    "E3": "correction required: relational fields in error",
    "E4": "trading partner agreement specific requirement not met",
    "F0": "finalized",
    "F1": "finalized: payment",
    "F2": "finalized: denial",
    "F3": "finalized: revised",
    "F3F": "finalized: forwarded",
    "F3N": "finalized: not forwarded",
    "F4": "finalized: adjudication complete, no payment forthcoming",
    "P0": "pending: adjudication/details",
    "P1": "pending: in process",
    "P2": "pending: payer review",
    "P3": "pending: provider requested information",
    "P4": "pending: patient requested information",
    "P5": "pending: payer administrative/system hold",
    "R0": "request for additional information: general requests",
    "R1": "request for additional information: entity requests",
    "R3": "request for additional information: claim/line",
    "R4": "request for additional information: documentation",
    "R5": "request for additional information: more specific detail",
}

STATUSES = {  # STC01-2 (508): the common ones
    "0": "cannot provide further status electronically",
    "1": "for more detailed information, see remittance advice",
    "2": "more detailed information in letter",
    "3": "claim has been adjudicated and is awaiting payment cycle",
    "6": "balance due from the subscriber",
    "12": "one or more originally submitted procedure codes have been combined",
    "15": "one or more originally submitted procedure codes have been modified",
    "16": "claim/encounter has been forwarded to entity",
    "17": "claim/encounter has been forwarded by third party entity to entity",
    "18": "entity received claim/encounter, but returned invalid status",
    "19": "entity acknowledges receipt of claim/encounter",
    "20": "accepted for processing",
    "21": "missing or invalid information",
    "23": "returned to entity",
    "24": "entity not approved as an electronic submitter",
    "25": "entity not approved",
    "26": "entity not found",
    "27": "policy canceled",
    "29": "subscriber and policy number/contract number mismatched",
    "30": "subscriber and subscriber id mismatched",
    "31": "subscriber and policyholder name mismatched",
    "32": "subscriber and policy number/contract number not found",
    "33": "subscriber and subscriber id not found",
    "34": "subscriber and policyholder name not found",
    "35": "claim/encounter not found",
    "39": "awaiting next periodic adjudication cycle",
    "41": "waiting for final approval",
    "42": "special handling required at payer site",
    "43": "awaiting related charges",
    "44": "charges pending provider audit",
    "45": "awaiting benefit determination",
    "46": "internal review/audit",
    "47": "internal review/audit, partial payment made",
    "52": "investigating existence of other insurance coverage",
    "54": "duplicate of a previously processed claim/line",
    "56": "awaiting eligibility determination",
    "65": "claim/line has been paid",
    "78": "duplicate of an existing claim/line, awaiting processing",
    "84": "service not authorized",
    "85": "entity not primary",
    "88": "entity not eligible for benefits for submitted dates of service",
    "95": "requested additional information not received",
    "97": "patient eligibility not found with entity",
    "104": "processed according to plan provisions",
    "107": "processed according to contract provisions",
    "109": "entity not eligible",
    "116": "claim submitted to incorrect payer",
    "128": "entity's tax id",
    "145": "entity's specialty/taxonomy code",
    "153": "entity's id number",
    "164": "entity's contract/member number",
    "187": "date(s) of service",
    "254": "principal diagnosis code",
    "255": "diagnosis code",
    "400": "claim is out of balance",
    "454": "procedure code for services rendered",
    "562": "entity's National Provider Identifier (NPI)",
}

ENTITIES = {  # STC01-3 (98)
    "03": "dependent", "1P": "provider", "40": "receiver", "41": "submitter", "77": "service location",
    "82": "rendering provider", "85": "billing provider", "87": "pay-to provider", "AY": "clearinghouse",
    "DN": "referring provider", "DK": "ordering physician", "DQ": "supervising physician", "IL": "subscriber",
    "PR": "payer", "QC": "patient",
}


def words(table: dict[str, str], code: str, what: str) -> str:
    """A code in words; an unlisted code named with its number."""
    return table.get(code) or f"{what} {code}"


def status_words(category: str, status: str, entity: str = "") -> str:
    """'A7 acknowledgment: rejected for invalid information; 562 entity's National Provider
    Identifier (NPI) (billing provider)'."""
    text = f"{category} {words(CATEGORIES, category, 'claim status category')}"
    if status:
        text += f"; {status} {words(STATUSES, status, 'claim status code')}"
    if entity:
        text += f" ({words(ENTITIES, entity, 'entity')})"
    return text
