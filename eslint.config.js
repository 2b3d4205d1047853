import neostandard from 'neostandard'

export default [
  ...neostandard({
    ts: true,
    ignores: ['.sdk/**', 'dist/**', 'node_modules/**', 'data/**', '.tools/**', 'coverage/**', '.tap/**']
  }),
  {
    rules: {
      // Code and comments read in a side-by-side diff. A line that holds a string literal is exempt: a schema
      // description or an error message cut in mid-sentence with `+` reads worse, and says the same.
      '@stylistic/max-len': ['error', {
        code: 140,
        ignoreUrls: true,
        ignoreStrings: true,
        ignoreTemplateLiterals: true,
        ignoreRegExpLiterals: true
      }]
    }
  }
]
