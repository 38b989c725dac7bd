import assert from 'node:assert/strict';

/**
 * What each Hydrosphere client reads from an answer, as it reads it (hydrosdk 2.4
 * `ModelVersion._from_json` + `contract_dict_to_ModelContract`, hydrosdk 3.0 `_from_json` +
 * `signature_dict_to_ModelSignature` and pydantic `DockerImage(**…)`, the 2.x CLI's status loop,
 * the 2018 CLI's build loop): a missing key or a wrong type fails here as it would fail there.
 */
type Json = Record<string, unknown>;

/** DataType names hydro_serving_grpc knows (DT_INVALID too: a type no DataType holds, which the SDK reads as 0). */
const tfDtypes = new Set(['DT_INVALID', 'DT_HALF', 'DT_FLOAT', 'DT_DOUBLE', 'DT_INT8', 'DT_INT16', 'DT_INT32', 'DT_INT64', 'DT_UINT8', 'DT_UINT16', 'DT_UINT32', 'DT_UINT64', 'DT_STRING', 'DT_BOOL', 'DT_COMPLEX64', 'DT_COMPLEX128', 'DT_BFLOAT16', 'DT_QINT8', 'DT_QUINT8', 'DT_QINT16', 'DT_QUINT16', 'DT_QINT32', 'DT_RESOURCE', 'DT_VARIANT']);
const profiles = new Set(['NONE', 'CATEGORICAL', 'NOMINAL', 'ORDINAL', 'NUMERICAL', 'CONTINUOUS', 'INTERVAL', 'RATIO', 'IMAGE', 'VIDEO', 'AUDIO', 'TEXT']);

function obj(v: unknown, where: string): Json {
  assert.ok(typeof v === 'object' && v !== null && !Array.isArray(v), `${where} must be an object: ${JSON.stringify(v)}`);
  return v as Json;
}
const int = (v: unknown, where: string) => assert.ok(Number.isInteger(v), `${where} must be an integer: ${JSON.stringify(v)}`);
const str = (v: unknown, where: string) => assert.equal(typeof v, 'string', `${where} must be a string: ${JSON.stringify(v)}`);

/** hydrosdk's field_from_dict: a dtype alias or DT_ name, or subfields (a dict of fields); profile any case. */
function sdkField(f: unknown, where: string, shapeKey: 'dim' | 'dims'): void {
  const field = obj(f, where);
  str(field.name, `${where}.name`);
  if (field.profile !== undefined) {
    str(field.profile, `${where}.profile`);
    assert.ok(profiles.has(String(field.profile).toUpperCase()), `${where}.profile ${field.profile}`);
  }
  if (field.dtype !== undefined && field.dtype !== null) assert.ok(tfDtypes.has(String(field.dtype)), `${where}.dtype ${field.dtype} is not a DataType the SDK knows`);
  else {
    const sub = obj(field.subfields, `${where}.subfields (no dtype)`);
    for (const [name, v] of Object.entries(sub)) sdkField({ name, ...obj(v, `${where}.subfields.${name}`) }, `${where}.subfields.${name}`, shapeKey);
  }
  const shape = field.shape;
  if (shape === null || shape === undefined) return;
  const dims = shapeKey === 'dim' ? obj(shape, `${where}.shape`).dim : obj(shape, `${where}.shape`).dims;
  assert.ok(Array.isArray(dims), `${where}.shape.${shapeKey} must be a list`);
  for (const d of dims as unknown[]) {
    if (shapeKey === 'dim') int(obj(d, `${where}.shape.dim[]`).size, `${where}.shape.dim[].size`);
    else int(d, `${where}.shape.dims[]`);
  }
}

function signature(s: unknown, where: string, shapeKey: 'dim' | 'dims'): void {
  const sig = obj(s, where);
  str(sig.signatureName, `${where}.signatureName`);
  assert.ok(Array.isArray(sig.inputs), `${where}.inputs must be a list`);
  assert.ok(Array.isArray(sig.outputs), `${where}.outputs must be a list`);
  (sig.inputs as unknown[]).forEach((f, i) => sdkField(f, `${where}.inputs[${i}]`, shapeKey));
  (sig.outputs as unknown[]).forEach((f, i) => sdkField(f, `${where}.outputs[${i}]`, shapeKey));
}

function common(mv: Json): void {
  int(mv.id, 'id');
  const model = obj(mv.model, 'model');
  int(model.id, 'model.id');
  str(model.name, 'model.name');
  int(mv.modelVersion, 'modelVersion');
  int(obj(mv.monitoringConfiguration, 'monitoringConfiguration').batchSize, 'monitoringConfiguration.batchSize');
  assert.ok(['Assembling', 'Released', 'Failed'].includes(String(mv.status)), `status ${mv.status}`);
  const metadata = obj(mv.metadata, 'metadata');
  for (const [k, v] of Object.entries(metadata)) str(v, `metadata.${k}`);
}

/** hydrosdk 2.x ModelVersion._from_json. */
export function assertHydrosdk2ModelVersion(value: unknown): void {
  const mv = obj(value, 'ModelVersion');
  common(mv);
  const contract = obj(mv.modelContract, 'modelContract');
  assert.ok(typeof contract.modelName === 'string' || typeof contract.name === 'string', 'modelContract.modelName');
  signature(contract.predict, 'modelContract.predict', 'dim');
  const runtime = obj(mv.runtime, 'runtime');
  assert.ok('name' in runtime && 'tag' in runtime, 'runtime.name and runtime.tag');
}

/** hydrosdk 3.x ModelVersion._from_json (pydantic DockerImage: name and tag strings). */
export function assertHydrosdk3ModelVersion(value: unknown): void {
  const mv = obj(value, 'ModelVersion');
  common(mv);
  signature(mv.modelSignature, 'modelSignature', 'dims');
  const runtime = obj(mv.runtime, 'runtime');
  str(runtime.name, 'runtime.name');
  str(runtime.tag, 'runtime.tag');
  if (mv.image !== null && mv.image !== undefined) {
    const image = obj(mv.image, 'image');
    str(image.name, 'image.name');
    str(image.tag, 'image.tag');
  }
}

/** The 2.x CLI's wait: `model.name`, `modelVersion`, and a status it knows. */
export function assertCli2ModelVersion(value: unknown): void {
  const mv = obj(value, 'ModelVersion');
  str(obj(mv.model, 'model').name, 'model.name');
  int(mv.modelVersion, 'modelVersion');
  int(mv.id, 'id');
  assert.ok(['Assembling', 'Released', 'Failed'].includes(String(mv.status)), `status ${mv.status}`);
}

/** The 2018 CLI's build loop reads `id` and `status`; the rest is printed (HYDROSPHERE.md lists it). */
export function assertV1ModelBuild(value: unknown): void {
  const build = obj(value, 'ModelBuild');
  int(build.id, 'id');
  assert.ok(['Pending', 'Running', 'Failed', 'Finished'].includes(String(build.status)), `status ${build.status}`);
  const model = obj(build.model, 'model');
  int(model.id, 'model.id');
  str(model.name, 'model.name');
  for (const k of ['modelType', 'created', 'updated']) str(model[k], `model.${k}`);
  assert.ok('description' in model && 'modelContract' in model, 'model.description, model.modelContract');
  int(build.version, 'version');
  str(build.started, 'started');
  for (const k of ['finished', 'statusText', 'logsUrl', 'modelVersion', 'script']) assert.ok(k in build, `ModelBuild.${k}`);
  if (build.status === 'Finished') {
    const mv = obj(build.modelVersion, 'modelVersion');
    int(mv.id, 'modelVersion.id');
    for (const k of ['imageName', 'imageTag', 'imageSHA256', 'modelName', 'modelType']) str(mv[k], `modelVersion.${k}`);
    int(mv.modelVersion, 'modelVersion.modelVersion');
    assert.ok('created' in mv && 'model' in mv && 'modelContract' in mv, 'modelVersion.created, model, modelContract');
  } else assert.equal(build.modelVersion, null, 'modelVersion is null until the build finished');
}
