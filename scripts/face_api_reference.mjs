// face-api's own TF.js networks on raw RGB uint8 images: the reference the PyTorch port was checked against.
//
//   mkdir /tmp/ref && cd /tmp/ref && tar xzf <repo>/.cache/face-api/vladmandic-face-api-1.7.15.tgz
//   npm install --no-save @tensorflow/tfjs@4.22.0        # pure JavaScript, CPU backend (face-api 1.7.15's)
//   node <repo>/scripts/face_api_reference.mjs /tmp/ref/package chips150.raw N crops112.raw out.json
//
// chips150.raw: N×150×150×3 uint8 (descriptor input), crops112.raw: N×112×112×3 uint8 (landmark input).
// out.json: {"descriptors": N×128, "landmarks": N×136 (x, y fractions of the crop)}. face-api's no-bundle build
// imports tfjs's ESM files, which Node cannot resolve; a copy of it with those imports pointed at tfjs's CommonJS
// build (and the WebGL/WASM backends left out) is loaded instead.
import fs from 'fs';
import path from 'path';
import { createRequire } from 'module';
import { pathToFileURL } from 'url';

const [packageDir, chipsPath, count, cropsPath, outPath] = process.argv.slice(2);
const shim = path.join(packageDir, 'dist', 'tfjs-commonjs.mjs');
fs.writeFileSync(shim, `import { createRequire } from 'module';
export default createRequire(${JSON.stringify(path.join(packageDir, 'package.json'))})('@tensorflow/tfjs');\n`);
const source = fs.readFileSync(path.join(packageDir, 'dist', 'face-api.esm-nobundle.js'), 'utf8')
  .replace('import*as mn from"@tensorflow/tfjs/dist/index.js";', 'import mn from"./tfjs-commonjs.mjs";')
  .replace(/import\*as (\w+) from"@tensorflow\/tfjs-backend-(webgl|wasm)\/dist\/index.js";/g, '')
  .replace('w(n,mn);w(n,pn);w(n,un);', 'w(n,mn);');
const patched = path.join(packageDir, 'dist', 'face-api-commonjs-tfjs.mjs');
fs.writeFileSync(patched, source);
const faceapi = await import(pathToFileURL(patched).href);
const tf = faceapi.tf;
await tf.setBackend('cpu');
await tf.ready();

function load(net, name) {
  const manifest = JSON.parse(fs.readFileSync(path.join(packageDir, 'model', `${name}-weights_manifest.json`)));
  const bin = fs.readFileSync(path.join(packageDir, 'model', `${name}.bin`));
  const data = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength);
  net.loadFromWeightMap(tf.io.decodeWeights(data, manifest[0].weights));
}
const recogniser = new faceapi.FaceRecognitionNet();
load(recogniser, 'face_recognition_model');
const landmarker = new faceapi.FaceLandmark68Net();
load(landmarker, 'face_landmark_68_model');

const chips = fs.readFileSync(chipsPath);
const crops = fs.readFileSync(cropsPath);
const out = { descriptors: [], landmarks: [] };
for (let i = 0; i < Number(count); i += 1) {
  const chip = tf.tensor4d(new Float32Array(chips.subarray(i * 67500, (i + 1) * 67500)), [1, 150, 150, 3]);
  out.descriptors.push(Array.from(await recogniser.computeFaceDescriptor(chip)));
  const crop = tf.tensor4d(new Float32Array(crops.subarray(i * 37632, (i + 1) * 37632)), [1, 112, 112, 3]);
  out.landmarks.push(Array.from(await (await landmarker.forward(crop)).data()));
  chip.dispose();
  crop.dispose();
}
fs.writeFileSync(outPath, JSON.stringify(out));
