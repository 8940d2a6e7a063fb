// Pinhole deprojection/projection in the RealSense convention (integer pixel = pixel centre,
// camera axes x right, y down, z forward). Numeric reference: holocall_desktop/processing/deproject.py
// intr = (fx, fy, ppx, ppy)

vec3 deproject_pixel(vec2 pixel, float depth, vec4 intr)
{
    return vec3((pixel.x - intr.z) / intr.x * depth, (pixel.y - intr.w) / intr.y * depth, depth);
}

vec2 project_point(vec3 point, vec4 intr)
{
    return vec2(point.x / point.z * intr.x + intr.z, point.y / point.z * intr.y + intr.w);
}
