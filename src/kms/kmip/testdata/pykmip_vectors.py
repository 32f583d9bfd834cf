# Writes the KMIP 1.4 messages of `message.rs`'s tests with PyKMIP's own encoder (an independent implementation):
#   python3 src/kms/kmip/testdata/pykmip_vectors.py src/kms/kmip/testdata
import sys, warnings
warnings.filterwarnings("ignore")
from kmip.core import enums, utils, attributes as attrs, objects as objs, primitives
from kmip.core.messages import messages, contents, payloads
from kmip.core.factories.attributes import AttributeFactory

V = enums.KMIPVersion.KMIP_1_4
out = sys.argv[1]
af = AttributeFactory()

def req(op, payload):
    hdr = messages.RequestHeader(
        protocol_version=contents.ProtocolVersion(1, 4),
        maximum_response_size=contents.MaximumResponseSize(65536),
        batch_count=contents.BatchCount(1))
    item = messages.RequestBatchItem(operation=contents.Operation(op), request_payload=payload)
    return messages.RequestMessage(request_header=hdr, batch_items=[item])

def resp(op, payload, status=enums.ResultStatus.SUCCESS, reason=None, message=None):
    hdr = messages.ResponseHeader(
        protocol_version=contents.ProtocolVersion(1, 4),
        time_stamp=contents.TimeStamp(1700000000),
        batch_count=contents.BatchCount(1))
    item = messages.ResponseBatchItem(
        operation=contents.Operation(op) if op else None,
        result_status=contents.ResultStatus(status),
        result_reason=contents.ResultReason(reason) if reason else None,
        result_message=contents.ResultMessage(message) if message else None,
        response_payload=payload)
    return messages.ResponseMessage(response_header=hdr, batch_items=[item])

def write(name, msg):
    s = utils.BytearrayStream()
    msg.write(s, kmip_version=V)
    open(f"{out}/{name}.hex", "w").write(s.buffer.hex() + "\n")

gcm = attrs.CryptographicParameters(
    block_cipher_mode=enums.BlockCipherMode.GCM,
    cryptographic_algorithm=enums.CryptographicAlgorithm.AES,
    tag_length=16)
write("encrypt", req(enums.Operation.ENCRYPT, payloads.EncryptRequestPayload(
    unique_identifier="7", cryptographic_parameters=gcm, data=b"\x11"*32,
    iv_counter_nonce=b"\x22"*12, auth_additional_data=b"\xaa"*5)))
write("decrypt", req(enums.Operation.DECRYPT, payloads.DecryptRequestPayload(
    unique_identifier="7", cryptographic_parameters=gcm, data=b"\x11"*32,
    iv_counter_nonce=b"\x22"*12, auth_additional_data=b"\xaa"*5, auth_tag=b"\x33"*16)))
name = af.create_attribute(enums.AttributeType.NAME,
    attrs.Name.create("s3-default", enums.NameType.UNINTERPRETED_TEXT_STRING))
write("locate", req(enums.Operation.LOCATE, payloads.LocateRequestPayload(attributes=[name])))
write("get_attributes", req(enums.Operation.GET_ATTRIBUTES, payloads.GetAttributesRequestPayload(
    unique_identifier="7", attribute_names=["State"])))
template = objs.TemplateAttribute(attributes=[
    af.create_attribute(enums.AttributeType.CRYPTOGRAPHIC_ALGORITHM, enums.CryptographicAlgorithm.AES),
    af.create_attribute(enums.AttributeType.CRYPTOGRAPHIC_LENGTH, 256),
    af.create_attribute(enums.AttributeType.CRYPTOGRAPHIC_USAGE_MASK,
        [enums.CryptographicUsageMask.ENCRYPT, enums.CryptographicUsageMask.DECRYPT]),
    name])
write("create", req(enums.Operation.CREATE, payloads.CreateRequestPayload(
    object_type=enums.ObjectType.SYMMETRIC_KEY, template_attribute=template)))
write("activate", req(enums.Operation.ACTIVATE, payloads.ActivateRequestPayload(
    unique_identifier=attrs.UniqueIdentifier("7"))))
write("revoke", req(enums.Operation.REVOKE, payloads.RevokeRequestPayload(
    unique_identifier=attrs.UniqueIdentifier("7"),
    revocation_reason=objs.RevocationReason(code=enums.RevocationReasonCode.CESSATION_OF_OPERATION))))

write("encrypt_response", resp(enums.Operation.ENCRYPT, payloads.EncryptResponsePayload(
    unique_identifier="7", data=b"\x44"*32, auth_tag=b"\x55"*16)))
write("decrypt_response", resp(enums.Operation.DECRYPT, payloads.DecryptResponsePayload(
    unique_identifier="7", data=b"\x66"*32)))
write("locate_response", resp(enums.Operation.LOCATE, payloads.LocateResponsePayload(
    unique_identifiers=["7", "9"])))
state = af.create_attribute(enums.AttributeType.STATE, enums.State.DEACTIVATED)
write("get_attributes_response", resp(enums.Operation.GET_ATTRIBUTES, payloads.GetAttributesResponsePayload(
    unique_identifier="7", attributes=[state])))
write("create_response", resp(enums.Operation.CREATE, payloads.CreateResponsePayload(
    object_type=enums.ObjectType.SYMMETRIC_KEY, unique_identifier="7")))
write("failure_response", resp(enums.Operation.ENCRYPT, None, status=enums.ResultStatus.OPERATION_FAILED,
    reason=enums.ResultReason.ITEM_NOT_FOUND, message="Could not locate object: 99"))
