import neostandard from 'neostandard'

export default neostandard({
  ts: true,
  ignores: ['.sdk/**', 'dist/**', 'node_modules/**', 'data/**', '.tools/**', 'coverage/**', '.tap/**']
})
