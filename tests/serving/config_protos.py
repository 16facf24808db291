"""TF-Serving's BatchingParameters and MonitoringConfig protos, transcribed for the tests.

tensorflow-serving-api ships ModelServerConfig but not these two (they live in the server's
session_bundle_config.proto and monitoring_config.proto). The field names, numbers and types below
are copied from those files so that text_format parses serving/*.config as the server would and
rejects any field the server does not know.
"""

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, text_format, wrappers_pb2

_OPTIONAL, _REPEATED = descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL, descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED
_T = descriptor_pb2.FieldDescriptorProto


def _message(file_proto, name, fields):
    message = file_proto.message_type.add(name=name)
    for field_name, number, kind, label, type_name in fields:
        field = message.field.add(name=field_name, number=number, type=kind, label=label)
        if type_name:
            field.type_name = type_name


def _build():
    pool = descriptor_pool.DescriptorPool()
    wrappers = descriptor_pb2.FileDescriptorProto()
    wrappers_pb2.DESCRIPTOR.CopyToProto(wrappers)
    pool.Add(wrappers)
    f = descriptor_pb2.FileDescriptorProto(name="kclass_tests/serving_configs.proto", package="tensorflow.serving",
                                           syntax="proto3", dependency=["google/protobuf/wrappers.proto"])
    i64, s = ".google.protobuf.Int64Value", ".google.protobuf.StringValue"
    _message(f, "BatchingParameters", [
        ("max_batch_size", 1, _T.TYPE_MESSAGE, _OPTIONAL, i64),
        ("batch_timeout_micros", 2, _T.TYPE_MESSAGE, _OPTIONAL, i64),
        ("max_enqueued_batches", 3, _T.TYPE_MESSAGE, _OPTIONAL, i64),
        ("num_batch_threads", 4, _T.TYPE_MESSAGE, _OPTIONAL, i64),
        ("thread_pool_name", 5, _T.TYPE_MESSAGE, _OPTIONAL, s),
        ("allowed_batch_sizes", 6, _T.TYPE_INT64, _REPEATED, None),
        ("pad_variable_length_inputs", 7, _T.TYPE_BOOL, _OPTIONAL, None)])
    _message(f, "PrometheusConfig", [("enable", 1, _T.TYPE_BOOL, _OPTIONAL, None),
                                     ("path", 2, _T.TYPE_STRING, _OPTIONAL, None)])
    _message(f, "MonitoringConfig", [("prometheus_config", 1, _T.TYPE_MESSAGE, _OPTIONAL,
                                      ".tensorflow.serving.PrometheusConfig")])
    pool.Add(f)
    return {name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"tensorflow.serving.{name}"))
            for name in ("BatchingParameters", "MonitoringConfig")}


_CLASSES = _build()


def parse_batching(text):
    return text_format.Parse(text, _CLASSES["BatchingParameters"]())


def parse_monitoring(text):
    return text_format.Parse(text, _CLASSES["MonitoringConfig"]())
