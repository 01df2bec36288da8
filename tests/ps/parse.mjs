import { Parser, Language } from 'web-tree-sitter';
import { readFileSync } from 'node:fs';
await Parser.init();
const lang = await Language.load(process.argv[2]);
const p = new Parser();
p.setLanguage(lang);
const src = readFileSync(process.argv[3], 'utf8');
const tree = p.parse(src);
let bad = [];
function walk(n) {
  if (n.type === 'ERROR' || n.isMissing) bad.push(`${n.startPosition.row + 1}:${n.startPosition.column + 1} ${n.type}`);
  for (const c of n.children) walk(c);
}
walk(tree.rootNode);
console.log(`${tree.rootNode.type} ${tree.rootNode.childCount} children, ${bad.length} errors`);
for (const b of bad.slice(0, 10)) console.log(b);
process.exit(bad.length ? 1 : 0);
