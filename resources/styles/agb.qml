<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<qgis styleCategories="Symbology" version="3.22.16-Białowieża">
  <pipe-data-defined-properties>
    <Option type="Map">
      <Option type="QString" name="name" value=""/>
      <Option name="properties"/>
      <Option type="QString" name="type" value="collection"/>
    </Option>
  </pipe-data-defined-properties>
  <pipe>
    <provider>
      <resampling maxOversampling="2" zoomedInResamplingMethod="nearestNeighbour" zoomedOutResamplingMethod="nearestNeighbour" enabled="false"/>
    </provider>
    <rasterrenderer classificationMin="0" opacity="1" alphaBand="-1" type="singlebandpseudocolor" band="1" classificationMax="500" nodataColor="">
      <minMaxOrigin>
        <limits>None</limits>
        <extent>WholeRaster</extent>
        <statAccuracy>Estimated</statAccuracy>
        <cumulativeCutLower>0.02</cumulativeCutLower>
        <cumulativeCutUpper>0.98</cumulativeCutUpper>
        <stdDevFactor>2</stdDevFactor>
      </minMaxOrigin>
      <rastershader>
        <colorrampshader minimumValue="0" maximumValue="500" labelPrecision="6" colorRampType="INTERPOLATED" classificationMode="1" clip="0">
          <colorramp type="gradient" name="[source]">
            <Option type="Map">
              <Option type="QString" name="color1" value="255,255,229,255"/>
              <Option type="QString" name="color2" value="0,69,41,255"/>
              <Option type="QString" name="discrete" value="0"/>
              <Option type="QString" name="rampType" value="gradient"/>
              <Option type="QString" name="stops" value="0.05;247,252,185,255:0.1;217,240,163,255:0.2;173,221,142,255:0.3;120,198,121,255:0.4;65,171,93,255:0.6;35,132,67,255:0.8;0,104,55,255"/>
            </Option>
            <prop v="255,255,229,255" k="color1"/>
            <prop v="0,69,41,255" k="color2"/>
            <prop v="0" k="discrete"/>
            <prop v="gradient" k="rampType"/>
            <prop v="0.05;247,252,185,255:0.1;217,240,163,255:0.2;173,221,142,255:0.3;120,198,121,255:0.4;65,171,93,255:0.6;35,132,67,255:0.8;0,104,55,255" k="stops"/>
          </colorramp>
          <item label="0 Mg/ha" color="#ffffe5" value="0" alpha="255"/>
          <item label="25 Mg/ha" color="#f7fcb9" value="25" alpha="255"/>
          <item label="50 Mg/ha" color="#d9f0a3" value="50" alpha="255"/>
          <item label="100 Mg/ha" color="#addd8e" value="100" alpha="255"/>
          <item label="150 Mg/ha" color="#78c679" value="150" alpha="255"/>
          <item label="200 Mg/ha" color="#41ab5d" value="200" alpha="255"/>
          <item label="300 Mg/ha" color="#238443" value="300" alpha="255"/>
          <item label="400 Mg/ha" color="#006837" value="400" alpha="255"/>
          <item label="500 Mg/ha" color="#004529" value="500" alpha="255"/>
          <rampLegendSettings maximumLabel="500" orientation="2" suffix=" Mg/ha" useContinuousLegend="1" prefix="" direction="0" minimumLabel="0">
            <numericFormat id="basic">
              <Option type="Map">
                <Option type="QChar" name="decimal_separator" value=""/>
                <Option type="int" name="decimals" value="6"/>
                <Option type="int" name="rounding_type" value="0"/>
                <Option type="bool" name="show_plus" value="false"/>
                <Option type="bool" name="show_thousand_separator" value="true"/>
                <Option type="bool" name="show_trailing_zeros" value="false"/>
                <Option type="QChar" name="thousand_separator" value=""/>
              </Option>
            </numericFormat>
          </rampLegendSettings>
        </colorrampshader>
      </rastershader>
    </rasterrenderer>
    <brightnesscontrast gamma="1" brightness="0" contrast="0"/>
    <huesaturation invertColors="0" grayscaleMode="0" colorizeGreen="128" colorizeOn="0" saturation="0" colorizeStrength="100" colorizeBlue="128" colorizeRed="255"/>
    <rasterresampler maxOversampling="2"/>
    <resamplingStage>resamplingFilter</resamplingStage>
  </pipe>
  <blendMode>0</blendMode>
</qgis>
