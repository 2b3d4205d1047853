import { Type } from '@sinclair/typebox'
import { StringEnum } from './common.js'

export const HealthSchema = Type.Object({
  status: StringEnum(['ok'], { description: 'Always ok: any other state is an error status' })
}, { $id: 'Health', additionalProperties: false, description: 'A probe\'s answer.' })
