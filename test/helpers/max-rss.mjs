// Preloaded into a child process (node --import): on exit, writes its peak resident set size in bytes to the file
// MAX_RSS_FILE names, so a test can bound a CLI run's memory without adding a line to its output.
import { writeFileSync } from 'node:fs';

process.on('exit', () => {
  if (process.env.MAX_RSS_FILE) writeFileSync(process.env.MAX_RSS_FILE, String(process.resourceUsage().maxRSS * 1024));
});
