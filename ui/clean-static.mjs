// Remove the previous build from src/argosy/ui/static but keep its .gitignore and .gitkeep
// (vite's emptyOutDir would delete them).
import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const dir = fileURLToPath(new URL("../src/argosy/ui/static", import.meta.url));
for (const name of readdirSync(dir)) {
  if (name === ".gitignore" || name === ".gitkeep") continue;
  rmSync(join(dir, name), { recursive: true, force: true });
}
